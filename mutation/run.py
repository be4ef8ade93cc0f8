"""`make mutate`: mutation testing of the modules that carry the README's guarantees.

    python mutation/run.py [MODULE ...] [--jobs N] [--target PERCENT]

For each module (all of `TESTS` when none is named) it runs mutmut 3 in a scratch copy of the
project, `.mutation/<module>/`, made afresh each time: the module is the only one mutated, and
the only tests that run are its test files from `TESTS` (mutmut narrows them further, per
mutant, to the tests that reach the mutated function). Then it prints one row per module
(mutants, killed, survived, listed equivalents, timeouts, no tests, other, percent killed) and,
under the table, every mutant that no test killed, with its location and its diff.

Percent killed = (killed + timeouts) / (mutants - listed equivalents): a timeout is a mutant the
tests did not let pass. Mutants with no test, and those mutmut calls suspicious or a segfault,
count against the module and are listed with the survivors.

Equivalent mutants, those that no test can kill because the mutated code behaves the same, are
listed in `mutation/equivalent.toml`, each with its reason. An entry names its mutant by module,
function (`Class.method` for a method) and the mutated source text before and after (compared
with runs of whitespace collapsed), never by line number or mutmut's per-function counter, so
it still matches after edits elsewhere in the file. An entry that matches no surviving mutant of
a module that ran is reported as unknown (the mutant is killed now, or its code changed).

Exit status 1 when a module is below the target, an entry is unknown, or mutmut fails. Not part
of `make test`: a module takes one to several minutes, the modules whose tests run loopback
fetches or kill subprocesses the longest; `.mutation/<module>/mutmut.log` has mutmut's output,
and `mutmut show NAME` or `mutmut apply NAME` run in that folder work on one mutant.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mutmut.mutation.diff_apply import get_diff_for_mutant

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
EQUIVALENT_FILE = ROOT / "mutation" / "equivalent.toml"
PACKAGES = ("flows", "tasks", "warehouse")
ALSO_COPY = ("seeds",)  # besides tests/ and pyproject.toml, which mutmut copies itself

# The modules that carry a documented guarantee, and the test files that hold them.
TESTS: dict[str, tuple[str, ...]] = {
    "tasks/guard.py": ("tests/tasks/test_guard.py",),
    "tasks/exchange.py": ("tests/tasks/test_exchange.py", "tests/tasks/test_transport.py"),
    "tasks/urls.py": ("tests/tasks/test_urls.py", "tests/tasks/test_dedupe.py"),
    "tasks/dedupe.py": ("tests/tasks/test_dedupe.py", "tests/warehouse/test_dedup_index.py"),
    "tasks/robots.py": ("tests/tasks/test_robots.py",),
    "tasks/entities.py": ("tests/tasks/test_entities.py",),
    "flows/early.py": ("tests/flows/test_early.py",),
    "warehouse/publish.py": (
        "tests/warehouse/test_publish.py",
        "tests/warehouse/test_crash.py",
        "tests/warehouse/test_spill.py",
        "tests/warehouse/test_checks.py",
        "tests/warehouse/test_diskfull.py",
    ),
    "warehouse/lake.py": (
        "tests/warehouse/test_lake.py",
        "tests/warehouse/test_run_lock.py",
        "tests/warehouse/test_verified.py",
    ),
    "warehouse/verified.py": ("tests/warehouse/test_verified.py", "tests/warehouse/test_lake.py"),
    "warehouse/summaries.py": (
        "tests/warehouse/test_summaries.py",
        "tests/warehouse/test_query.py",
        "tests/warehouse/test_source_health.py",
    ),
    "warehouse/catalog.py": (
        "tests/warehouse/test_catalog_rebuilds.py",
        "tests/warehouse/test_catalog.py",
        "tests/warehouse/test_moved.py",
        "tests/warehouse/test_compact.py",  # the views over copies and parts
        "tests/warehouse/test_spread.py",  # the story_spread view over its summary
        "tests/warehouse/test_schema.py",  # the views' column names and types, empty lake too
    ),
    "warehouse/raw.py": ("tests/warehouse/test_raw.py", "tests/warehouse/test_raw_readers.py"),
    "warehouse/views.py": (
        "tests/warehouse/test_views.py",
        "tests/warehouse/test_catalog.py",
        "tests/warehouse/test_query.py",
        "tests/warehouse/test_entity_views.py",
        "tests/warehouse/test_source_health.py",
    ),
    "warehouse/checks.py": ("tests/warehouse/test_checks.py",),
    "tasks/archive.py": (
        "tests/tasks/test_archive.py",
        "tests/tasks/test_archive_records.py",
        "tests/tasks/test_archive_sources.py",
    ),
    "warehouse/compact.py": ("tests/warehouse/test_compact.py", "tests/warehouse/test_crash.py"),
    "warehouse/superseded.py": (
        "tests/warehouse/test_superseded.py",
        "tests/warehouse/test_publish.py",
        "tests/warehouse/test_compact.py",  # decisions over monthly copies
    ),
}

KILLED = "killed"
SURVIVED = "survived"
TIMEOUT = "timeout"
NO_TESTS = "no tests"
_RESULT_RE = re.compile(r"^\s+(\S+): (.+)$")
_HUNK_RE = re.compile(r"^@@ -(\d+)")


@dataclass(frozen=True, slots=True)
class Equivalent:
    """One entry of equivalent.toml."""

    module: str
    function: str
    before: str
    after: str
    reason: str

    def key(self) -> tuple[str, str, str, str]:
        return (self.module, self.function, _squash(self.before), _squash(self.after))


@dataclass(frozen=True, slots=True)
class Mutant:
    """A mutant that no test killed, as a developer needs to see it."""

    name: str  # mutmut's name, for `mutmut show` / `mutmut apply` in the work directory
    status: str
    module: str
    function: str
    line: int
    before: str
    after: str
    diff: str

    def key(self) -> tuple[str, str, str, str]:
        return (self.module, self.function, _squash(self.before), _squash(self.after))


@dataclass(slots=True)
class Outcome:
    """What one module's run came to."""

    module: str
    counts: Counter[str] = field(default_factory=Counter)
    open: list[Mutant] = field(default_factory=list)  # not killed, not a listed equivalent
    equivalent: int = 0  # survivors that equivalent.toml lists
    matched: set[tuple[str, str, str, str]] = field(default_factory=set)  # listed equivalents
    seconds: float = 0.0
    error: str = ""  # mutmut failed: the module counts as below target
    note: str = ""  # nothing to run (no functions to mutate)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def percent(self) -> float:
        judged = self.total - self.equivalent
        caught = self.counts[KILLED] + self.counts[TIMEOUT]
        return 100.0 * caught / judged if judged else 100.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="e.g. tasks/dedupe.py (default: all)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--target", type=float, default=90.0, help="percent killed per module")
    parser.add_argument(
        "--report", action="store_true", help="only report what the last run left in .mutation/"
    )
    args = parser.parse_args(argv)

    modules = args.modules or list(TESTS)
    unknown = [m for m in modules if m not in TESTS]
    if unknown:
        parser.error(f"no test map for {', '.join(unknown)}; known: {', '.join(TESTS)}")
    equivalents = load_equivalents(EQUIVALENT_FILE)

    outcomes = []
    for module in modules:
        if not args.report:
            print(f"{module}: mutating, tests {' '.join(TESTS[module])}", flush=True)
        outcome = run_module(module, TESTS[module], args.jobs, equivalents, run=not args.report)
        if not args.report:
            print(f"{module}: {outcome.total} mutants in {outcome.seconds:.0f} s", flush=True)
        outcomes.append(outcome)

    print()
    print_table(outcomes, args.target)
    print_open_mutants(outcomes)
    stale = unmatched_equivalents(equivalents, outcomes)
    for entry in stale:
        print(
            f"equivalent.toml: no surviving mutant of {entry.module} {entry.function} "
            f"turns {entry.before!r} into {entry.after!r} (killed now, or the code changed)"
        )
    failed = any(o.error or (not o.note and o.percent < args.target) for o in outcomes)
    return 1 if failed or stale else 0


def load_equivalents(path: Path) -> list[Equivalent]:
    if not path.exists():
        return []
    data = tomllib.loads(path.read_text("utf-8"))
    entries = []
    for i, raw in enumerate(data.get("mutant", []), start=1):
        missing = {"module", "function", "before", "after", "reason"} - raw.keys()
        if missing or not str(raw.get("reason", "")).strip():
            raise SystemExit(f"{path}: entry {i} needs module, function, before, after, reason")
        entries.append(
            Equivalent(raw["module"], raw["function"], raw["before"], raw["after"], raw["reason"])
        )
    return entries


def run_module(
    module: str, tests: tuple[str, ...], jobs: int, equivalents: list[Equivalent], *, run: bool
) -> Outcome:
    outcome = Outcome(module)
    workdir = WORK / module.removesuffix(".py").replace("/", ".")
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    log = workdir / "mutmut.log"
    tree = ast.parse((ROOT / module).read_text("utf-8"))
    if not any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) for n in ast.walk(tree)):
        outcome.note = "no mutants: mutmut mutates code inside functions, and it has none"
        return outcome
    if not run and not (workdir / "mutants").is_dir():
        outcome.error = f"no earlier run in {workdir.relative_to(ROOT)}"
        return outcome
    if run:
        prepare(workdir, module, tests)
        started = time.monotonic()
        with log.open("w") as out:
            ran = subprocess.run(
                [mutmut, "run", "--max-children", str(jobs)],
                cwd=workdir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        outcome.seconds = time.monotonic() - started
        if ran.returncode != 0:
            outcome.error = f"mutmut run exited {ran.returncode}; see {log}"
            print(f"{module}: {outcome.error}", flush=True)
            print("\n".join(log.read_text("utf-8", "replace").splitlines()[-30:]))
            return outcome

    results = subprocess.run(
        [mutmut, "results", "--all", "true"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    listed = {e.key() for e in equivalents if e.module == module}
    source = (ROOT / module).read_text("utf-8")
    for line in results.stdout.splitlines():
        match = _RESULT_RE.match(line)
        if not match:
            continue
        name, status = match.groups()
        outcome.counts[status] += 1
        if status in (KILLED, TIMEOUT):
            continue
        with contextlib.chdir(workdir):
            diff = get_diff_for_mutant(name, path=module)
        mutant = describe(name, status, module, source, diff)
        if mutant.key() in listed:
            outcome.equivalent += 1
            outcome.matched.add(mutant.key())
        else:
            outcome.open.append(mutant)
    return outcome


def prepare(workdir: Path, module: str, tests: tuple[str, ...]) -> None:
    """A fresh copy of the project with a mutmut config for this module and its tests."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    skip = shutil.ignore_patterns("__pycache__", ".hypothesis", ".pytest_cache", "*.pyc")
    for name in (*PACKAGES, "tests", *ALSO_COPY):
        shutil.copytree(ROOT / name, workdir / name, ignore=skip)
    pyproject = (ROOT / "pyproject.toml").read_text("utf-8")
    if "[tool.mutmut]" in pyproject:
        raise SystemExit("pyproject.toml has a [tool.mutmut] table; mutation/run.py writes its own")
    config = "\n".join(
        [
            "",
            "[tool.mutmut]",
            f"source_paths = {_toml_list(PACKAGES)}",
            f"only_mutate = {_toml_list([module])}",
            f"also_copy = {_toml_list(ALSO_COPY)}",
            f"pytest_add_cli_args_test_selection = {_toml_list(tests)}",
            'pytest_add_cli_args = ["-p", "no:cacheprovider"]',
            "use_git_change_detection = false",
            "",
        ]
    )
    (workdir / "pyproject.toml").write_text(pyproject + config, "utf-8")


def describe(name: str, status: str, module: str, source: str, diff: str) -> Mutant:
    """A mutant from its diff (mutmut's, of the one function): changed lines and location."""
    function = function_of(name)
    changed = [
        line
        for line in diff.splitlines()
        if line.startswith(("-", "+")) and not line.startswith(("---", "+++"))
    ]
    before = "\n".join(line[1:].strip() for line in changed if line.startswith("-"))
    after = "\n".join(line[1:].strip() for line in changed if line.startswith("+"))
    return Mutant(
        name=name,
        status=status,
        module=module,
        function=function,
        line=locate(source, function, diff),
        before=before,
        after=after,
        diff="\n".join(changed),
    )


def function_of(name: str) -> str:
    """`tasks.dedupe.x__decide_one__mutmut_3` -> `_decide_one`; methods -> `Class.method`."""
    mangled = name.partition("__mutmut_")[0].rpartition(".")[2]
    if mangled.startswith("x_"):
        return mangled[2:]
    _, cls, method = mangled.split("ǁ")  # mutmut's separator for methods: xǁClassǁmethod
    return f"{cls}.{method}"


def locate(source: str, function: str, diff: str) -> int:
    """The source line of the first changed line of a function diff (0 if not found).

    The hunk header counts lines from the start of the function; the line found there is
    checked against the removed text, else the nearest line of the function with that text.
    """
    node = _find_def(ast.parse(source), function.split("."))
    if node is None:
        return 0
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    end = node.end_lineno or node.lineno
    offset, first = 0, ""
    for line in diff.splitlines():
        hunk = _HUNK_RE.match(line)
        if hunk:
            offset = int(hunk.group(1))
        elif line.startswith("-") and not line.startswith("---"):
            first = line[1:].strip()
            break
        elif line.startswith("+") and not line.startswith("+++"):
            return start + offset - 1  # an insertion: the line it comes before
        elif offset:
            offset += 1
    guess = start + offset - 1
    lines = source.splitlines()
    found = [n for n in range(start, end + 1) if lines[n - 1].strip() == first]
    return min(found, key=lambda n: abs(n - guess)) if found else guess


def _find_def(tree: ast.AST, path: list[str]) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    body = getattr(tree, "body", [])
    for node in body:
        if getattr(node, "name", None) != path[0]:
            continue
        if len(path) == 1 and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return node
        if len(path) > 1 and isinstance(node, ast.ClassDef):
            return _find_def(node, path[1:])
    return None


def print_table(outcomes: list[Outcome], target: float) -> None:
    header = (
        f"{'module':<22} {'mutants':>7} {'killed':>6} {'survived':>8} {'equiv':>5} "
        f"{'timeout':>7} {'no tests':>8} {'other':>5} {'killed %':>8} {'time':>6}"
    )
    print(header)
    print("-" * len(header))
    for o in outcomes:
        if o.error or o.note:
            print(f"{o.module:<22} {o.error or o.note}")
            continue
        survived = sum(m.status == SURVIVED for m in o.open)
        other = o.total - sum(o.counts[s] for s in (KILLED, TIMEOUT, NO_TESTS, SURVIVED))
        flag = "" if o.percent >= target else f"  below {target:g}%"
        print(
            f"{o.module:<22} {o.total:>7} {o.counts[KILLED]:>6} {survived:>8} {o.equivalent:>5} "
            f"{o.counts[TIMEOUT]:>7} {o.counts[NO_TESTS]:>8} {other:>5} {o.percent:>7.1f}% "
            f"{f'{o.seconds:.0f}s' if o.seconds else '-':>6}{flag}"
        )


def print_open_mutants(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        if not o.open:
            continue
        print()
        print(f"{o.module}: {len(o.open)} mutants not killed (work dir {_work_of(o.module)})")
        for m in sorted(o.open, key=lambda m: (m.line, m.name)):
            print(f"  {m.module}:{m.line} in {m.function} [{m.status}] {m.name}")
            for line in m.diff.splitlines():
                print(f"      {line}")


def unmatched_equivalents(
    equivalents: list[Equivalent], outcomes: list[Outcome]
) -> list[Equivalent]:
    """Entries for a module that ran whose mutant no longer survives (or no longer exists)."""
    ran = {o.module for o in outcomes if not o.error}
    matched = {key for o in outcomes for key in o.matched}
    return [e for e in equivalents if e.module in ran and e.key() not in matched]


def _work_of(module: str) -> Path:
    return (WORK / module.removesuffix(".py").replace("/", ".")).relative_to(ROOT)


def _squash(text: str) -> str:
    return "\n".join(" ".join(line.split()) for line in text.strip().splitlines())


def _toml_list(items: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


if __name__ == "__main__":
    sys.exit(main())
