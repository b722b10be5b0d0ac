#!/usr/bin/env bash
# The full studies behind docs/studies.md, one folder each under docs/studies/ (about an hour and a
# half on 2 cores). A folder that holds results is refused: RESUME=1 adds the missing runs to it.
set -euo pipefail
cd "$(dirname "$0")/.."
for study in "${@:-rates no-dropout train-size width activations mc-dropout weight-decay noise precision compiled data-parallel}"; do
  for name in $study; do
    .venv/bin/dropout-ports study "$name" --quiet --out "docs/studies/$name" ${RESUME:+--resume}
  done
done
