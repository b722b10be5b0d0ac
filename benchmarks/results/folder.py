"""An output folder held by one writer: made or reused on purpose, locked, never silently overwritten."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from pathlib import Path
from types import TracebackType

from dropout_ports.benchmarks.results.store import read_json, remove_stale_temporaries, write_json_atomic

LOCK_NAME = ".lock"


class FolderError(ValueError):
    """The folder cannot be used: in use, already holding results, or not writable."""


def new_folder(prefix: str = "", parent: Path = Path("results")) -> Path:
    """A fresh folder results/<prefix><timestamp>[-N]: made atomically, so two commands started in
    the same second never share one."""
    stamp = f"{prefix}{dt.datetime.now():%Y%m%d-%H%M%S}"
    for attempt in range(1, 1000):
        folder = parent / (stamp if attempt == 1 else f"{stamp}-{attempt}")
        try:
            folder.mkdir(parents=True)
        except FileExistsError:
            continue
        except OSError as err:
            raise FolderError(f"cannot make the output folder {folder}: {err.strerror or err}") from err
        return folder
    raise FolderError(f"cannot find a free folder name for {parent / stamp}")


class ResultsFolder:
    """``with ResultsFolder(path, "results.json", resume=False) as folder:`` holds an exclusive lock
    on path until the block ends; ``folder.existing`` is the document already there (resume only)."""

    def __init__(self, path: Path, document: str, *, resume: bool = False):
        self.path = Path(path)
        self.document = self.path / document
        self.resume = resume
        self.existing: dict | None = None
        self._lock_fd: int | None = None

    def __enter__(self) -> ResultsFolder:
        if self.path.exists() and not self.path.is_dir():
            raise FolderError(f"the output folder {self.path} is a file")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as err:
            raise FolderError(
                f"cannot write to the output folder {self.path}: {err.strerror or err}"
            ) from err
        try:  # from the lock on, anything raised must let it go: Ctrl-C or SIGTERM too, even one
            # raised the moment flock returns (a command interrupted then could not record it)
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise FolderError(
                    f"{self.path} is in use by another dropout-ports command; wait or pick another --out"
                ) from None
            remove_stale_temporaries(self.path)
            if self.document.exists():
                if not self.resume:
                    raise FolderError(
                        f"{self.path} already holds {self.document.name}; pass --resume to add the missing "
                        "runs to it, or pick another --out"
                    )
                self.existing = read_json(self.document)
        except BaseException:
            self._release()
            raise
        return self

    def save(self, doc: dict) -> None:
        write_json_atomic(self.document, doc)

    def _release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the lock
            self._lock_fd = None

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._release()
