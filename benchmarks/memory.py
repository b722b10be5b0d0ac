"""Peak resident memory of this process during a block, sampled by a background thread."""

from __future__ import annotations

import os
import threading
from types import TracebackType

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int:
    """Current RSS from /proc (Linux); 0 where that does not exist."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_BYTES
    except OSError:
        return 0


class PeakMemory:
    """``with PeakMemory() as peak: ...`` then ``peak.bytes``, the highest RSS seen (sampled every
    10 ms), and ``peak.start_bytes``, the RSS on entry: their difference is what the block added."""

    def __init__(self, interval: float = 0.01):
        self.interval = interval
        self.bytes = 0
        self.start_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.bytes = max(self.bytes, resident_bytes())
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> PeakMemory:
        self.start_bytes = resident_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self.bytes = max(self.bytes, resident_bytes())
