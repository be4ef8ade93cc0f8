"""An analyst's DuckDB session on the catalog, driven line by line through stdin.

    python analyst.py CATALOG (ro|rw)

Each stdin line is one SQL query; the first cell of its first row is printed on its own line
("ERROR <message>" if it failed). The session stays open until stdin closes.
"""

from __future__ import annotations

import sys

import duckdb


def main(argv: list[str]) -> int:
    catalog, mode = argv[1], argv[2]
    con = duckdb.connect(catalog, read_only=(mode == "ro"))
    print("ready", flush=True)
    for line in sys.stdin:
        try:
            row = con.execute(line).fetchone()
            print(row[0] if row else None, flush=True)
        except duckdb.Error as error:
            print("ERROR", str(error).replace("\n", " "), flush=True)
    con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
