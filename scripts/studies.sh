#!/usr/bin/env bash
# The full studies behind docs/studies.md, one folder each under docs/studies/ (about an hour on
# 2 cores). A folder that holds results is refused: pass --resume through to add missing runs.
set -euo pipefail
cd "$(dirname "$0")/.."
for study in "${@:-rates no-dropout activations mc-dropout weight-decay noise precision compiled}"; do
  for name in $study; do
    .venv/bin/dropout-ports study "$name" --quiet --out "docs/studies/$name" ${RESUME:+--resume}
  done
done
