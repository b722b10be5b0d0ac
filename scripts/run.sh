#!/usr/bin/env bash
# Set up (idempotent), then run the main job: every port over 8 seeds (enough for an equivalence
# verdict within 1 pp to be likely), the float64 lockstep check first, and a Verdict at the end.
# Extra arguments go to the command (a later --seeds replaces these).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/dropout-ports compare --seeds 0 1 2 3 4 5 6 7 --verdict "$@"
