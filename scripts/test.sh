#!/usr/bin/env bash
# Set up (idempotent), then run every test in .venv, slow training tests and the TFDS tests
# included (TensorFlow lives in .venv since it joined as the fourth framework).
# Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pytest "$@"
