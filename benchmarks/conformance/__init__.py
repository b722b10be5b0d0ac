"""The conformance kit: the checks that prove a port of the chapter right, for any port.

``run_checks(port)`` runs them (``dropout-ports check`` from the command line) and
``parametrize_with_checks(port)`` hands them to pytest, one test per check, so that a port kept
in another repository runs them in its own CI. Each check says what it checks, the bound it holds
the port to and why, and where to look when it fails (docs/porting.md).
"""

from dropout_ports.benchmarks.conformance import contract, masks, semantics, training  # noqa: F401  (they register the checks)
from dropout_ports.benchmarks.conformance.kit import CHECKS, Check, Result, Settings, load, plan, run_checks
from dropout_ports.benchmarks.conformance.pytest_checks import parametrize_with_checks

__all__ = ["CHECKS", "Check", "Result", "Settings", "load", "parametrize_with_checks", "plan", "run_checks"]
