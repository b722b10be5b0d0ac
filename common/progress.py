"""When to draw progress bars: only on a terminal, so logs get lines rather than frames."""

from __future__ import annotations

import os
import sys


def show_progress(requested: bool = True) -> bool:
    """Progress bars only when asked for, on a terminal, and not turned off by $TQDM_DISABLE."""
    return requested and sys.stderr.isatty() and not os.environ.get("TQDM_DISABLE")
