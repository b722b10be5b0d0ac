#!/usr/bin/env bash
# The GPU checks, as one script for a lent GPU machine (its frameworks preinstalled, no network,
# our package not installed). Here, first: mkdir -p data && cp /usr/share/datasets/fashion-mnist/*.gz data/
# then run `bash scripts/gpu-check.sh` there with `data` carried; results land in $OUT/gpu.tgz
# (or results/gpu). Each step has a time limit, so one slow step cannot cost the others.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD FASHION_MNIST_DIR=$PWD/data PYTHONUNBUFFERED=1
work=$(mktemp -d)/gpu
mkdir -p "$work"
cli() { python3 -m benchmarks.cli "$@"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$work/gpu.txt"
cli info | tee -a "$work/gpu.txt"
python3 -c "import numpy, scipy, threadpoolctl, tqdm, matplotlib" 2>&1 | tee "$work/missing.txt"  # our own dependencies
timeout "${PYTEST_S:-170}" python3 -m pytest -m gpu -q -p no:cacheprovider 2>&1 | tail -n 40 > "$work/pytest-gpu.txt"
timeout "${BENCH_S:-200}" python3 -m benchmarks.cli bench --device gpu --quiet --out "$work/bench" > "$work/bench.txt" 2>&1
# torch eager, torch.compile and JAX's jit on the GPU, each run in a process of its own.
timeout "${STUDY_S:-200}" python3 -m benchmarks.cli study compiled --device gpu --backends torch jax --seeds 0 1 --quiet \
  --out "$work/study-compiled" > "$work/study.txt" 2>&1
tail -n 5 "$work"/*.txt
if [ -n "${OUT:-}" ]; then tar czf "$OUT/gpu.tgz" -C "$(dirname "$work")" gpu; else rm -rf results/gpu; cp -r "$work" results/gpu; fi
