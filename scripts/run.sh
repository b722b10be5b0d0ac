#!/usr/bin/env bash
# Set up (idempotent), then run the main job: every port over 8 seeds (a first look in about ten
# minutes; its verdict says how many seeds would decide within 1 pp), the float64 lockstep check
# first, and a Verdict at the end.
# Seed 0's runs go one at a time with every core (the speed figures come from them alone); the
# other seeds two at a time, for the accuracy. Extra arguments go to the command (a later --seeds
# or --jobs replaces these).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/dropout-ports compare --seeds 0 1 2 3 4 5 6 7 --verdict --jobs 2 --timed-seeds 1 "$@"
