#!/usr/bin/env bash
# Set up (idempotent), then run every test: the main suite (slow training tests included) in
# .venv, then the TFDS tests in .venv-tfds, TensorFlow's own environment.
# Arguments go to the main pytest run; SKIP_TFDS=1 skips the TFDS environment.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pytest "$@"
if [ "${SKIP_TFDS:-0}" != 1 ]; then
    bash scripts/setup.sh .venv-tfds tfds,dev
    .venv-tfds/bin/python -m pytest -m tfds tests/test_tfds.py
fi
