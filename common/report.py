"""Reporting shared by every command: atomic JSON files and markdown tables."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

Column = tuple[str, Callable[[dict], str]]  # header, cell of a row


def write_json_atomic(path: str | os.PathLike, payload: object) -> None:
    """Write via a temporary file and a rename, so an interruption never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(payload, out, indent=2)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def markdown_table(rows: Sequence[dict], columns: Sequence[Column]) -> str:
    lines = [
        "| " + " | ".join(header for header, _ in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    lines += ["| " + " | ".join(cell(row) for _, cell in columns) + " |" for row in rows]
    return "\n".join(lines)


def print_table(rows: Sequence[dict], columns: Sequence[Column]) -> None:
    print(markdown_table(rows, columns))
