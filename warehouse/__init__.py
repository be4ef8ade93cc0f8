"""The warehouse: Parquet lake, raw archive, DuckDB catalog of views.

- `schema`: every table as a pyarrow schema (the one schema).
- `convert`: records of `tasks/` -> Arrow tables checked against the schema.
- `publish`: `Publication`, atomic publication of one run's files; `lake`: paths and recovery.
- `raw`: the run's WARC archive; `catalog` + `views`: the `.duckdb` file of views.
- `query`: read-only questions (the CLI's SQL, seen URLs, feed validators); `checks`: data checks.
"""
