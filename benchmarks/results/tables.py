"""Markdown tables from rows of dicts and a list of (header, cell) columns."""

from __future__ import annotations

from collections.abc import Callable, Sequence

Column = tuple[str, Callable[[dict], str]]  # header, cell of a row


def markdown_table(rows: Sequence[dict], columns: Sequence[Column]) -> str:
    lines = [
        "| " + " | ".join(header for header, _ in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    lines += ["| " + " | ".join(cell(row) for _, cell in columns) + " |" for row in rows]
    return "\n".join(lines)
