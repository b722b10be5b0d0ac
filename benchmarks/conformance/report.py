"""The kit's report: a line per check as it finishes, check.json, and check.md, in which every
failing check says what was expected, what was seen and where to look."""

from __future__ import annotations

from collections import Counter

from dropout_ports.benchmarks.conformance.kit import Result
from dropout_ports.benchmarks.results.tables import Column, markdown_table

MARK = {"pass": "pass", "fail": "FAIL", "skipped": "skip"}
COLUMNS: list[Column] = [
    ("check", lambda r: f"`{r['id']}`"),
    ("of", lambda r: r["subject"]),
    ("verdict", lambda r: MARK[r["verdict"]]),
    ("measured", lambda r: r["measured"].replace("|", "\\|")),
]


def line(result: Result) -> str:
    """One row of the terminal table."""
    where = f"{MARK[result.verdict]:4s}  {result.subject:15s} {result.id:22s}"
    return f"{where} {result.measured}  ({result.seconds:.1f} s)"


def explain(result: Result) -> str:
    """A failing check, for a newcomer: what it checks, what was expected, what was seen, where to look."""
    lines = [
        f"{result.id} of {result.subject}: {result.what}",
        f"  expected: {result.bound}",
        f"  seen:     {result.seen}" + (f" ({result.measured})" if result.measured else ""),
        f"  look at:  {result.where}",
        f"  (why this bound: {result.why})",
    ]
    return "\n".join(lines)


def summary(results: list[Result]) -> str:
    counts = Counter(result.verdict for result in results)
    return f"{counts['pass']} passed, {counts['fail']} failed, {counts['skipped']} skipped"


def document(port: str, results: list[Result], settings: dict) -> dict:
    """check.json: the settings, every check's verdict with its figure, and the summary."""
    return {
        "port": port,
        "settings": settings,
        "passed": not any(result.verdict == "fail" for result in results),
        "summary": summary(results),
        "checks": [result.to_dict() for result in results],
    }


def markdown(doc: dict) -> str:
    """check.md: the verdict, the table of checks, then each failure explained, then the bounds."""
    failures = [Result(**row) for row in doc["checks"] if row["verdict"] == "fail"]
    verdict = "passes every check" if doc["passed"] else f"fails {len(failures)} check(s)"
    settings = "; ".join(
        f"{key} {', '.join(map(str, value)) if isinstance(value, list) else value}"
        for key, value in doc["settings"].items()
    )
    parts = [
        f"# `dropout-ports check {doc['port']}`: {verdict}",
        f"{doc['summary']}; {settings}.",
        markdown_table(doc["checks"], COLUMNS),
    ]
    if failures:
        parts.append("## What failed, and where to look")
        parts += [f"```\n{explain(result)}\n```" for result in failures]
    parts.append("## The checks and their bounds")
    described = {row["id"]: row for row in doc["checks"]}.values()
    parts += [
        f"- `{row['id']}`: {row['what']}. Bound: {row['bound']}. Why: {row['why']}." for row in described
    ]
    return "\n\n".join(parts) + "\n"
