"""A test port that fails on purpose, registered through $DROPOUT_PORTS_BACKENDS as "faulty".

It is the NumPy port, except that its Trainer dies by seed: 1 exits the process outright, 2
raises, 3 hangs. Seed 0 trains as NumPy does.
"""

from __future__ import annotations

import os
import time

from dropout_ports.backends.numpy import *  # noqa: F403  (every name of the contract)
from dropout_ports.backends.numpy import Trainer as NumpyTrainer

NAME = "faulty"


class Trainer(NumpyTrainer):
    def __init__(self, cfg, params, **options):
        super().__init__(cfg, params, **options)
        if cfg.seed == 1:
            os._exit(3)
        if cfg.seed == 2:
            raise RuntimeError("this port fails on seed 2")
        if cfg.seed == 3:
            time.sleep(3600)
