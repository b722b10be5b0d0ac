"""Result files: strict JSON, written atomically and durably, with the permissions the umask gives."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".tmp"


def strict(value: object) -> object:
    """value with every NaN or infinity replaced by None, so strict JSON readers accept the file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: strict(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(item) for item in value]
    return value


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json_atomic(path: str | os.PathLike, payload: object) -> None:
    """Write via a temporary file, fsync, rename and fsync of the folder: after a crash or power
    loss the file is the old one or the new one, never half of either, and never lost."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(strict(payload), out, indent=2, allow_nan=False)
            out.write("\n")
            out.flush()
            os.fchmod(out.fileno(), 0o666 & ~_umask())  # mkstemp makes 0600; others get 0666 & ~umask
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete temporary files a killed writer left behind (call it holding the folder's lock)."""
    stale = [p for p in folder.glob(f".*{TEMP_SUFFIX}") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def read_json(path: Path) -> dict:
    """A JSON object from path, or a ValueError that says what is wrong with the file."""
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(doc, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return doc
