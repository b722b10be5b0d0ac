"""What a result was measured on: CPU, cores, platform, framework versions."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence

from backends import get_backend


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def environment(names: Sequence[str]) -> dict:
    versions = {"python": platform.python_version()}
    for name in names:
        versions.update(get_backend(name).versions())
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "versions": versions,
    }
