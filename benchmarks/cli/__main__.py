"""python -m dropout_ports.benchmarks.cli: the dropout-ports command without its script."""

import sys

from dropout_ports.benchmarks.cli.main import main

sys.exit(main())
