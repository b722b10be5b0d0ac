#!/usr/bin/env bash
# The GPU checks, as one script for a lent GPU machine (its frameworks preinstalled, no network,
# our package not installed). Here, first: mkdir -p data && cp /usr/share/datasets/fashion-mnist/*.gz data/
# then run `bash scripts/gpu-check.sh` there with `data` carried; results land in $OUT (or results/gpu).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD FASHION_MNIST_DIR=$PWD/data PYTHONUNBUFFERED=1
out=${OUT:-results/gpu}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python3 -m benchmarks.cli info | tee -a "$out/gpu.txt"
python3 -m pytest -m gpu -q -p no:cacheprovider 2>&1 | tail -n 30 | tee "$out/pytest-gpu.txt"
python3 -c "import numpy, scipy, threadpoolctl, tqdm, matplotlib" 2>&1 | tee "$out/missing.txt"  # our own dependencies
# Two ports through the default local executor: each run in its own process, so each gets the GPU alone.
python3 -m benchmarks.cli compare --device gpu --backends torch jax --seeds 0 1 --out "$out/compare" 2>&1 | tee "$out/compare.txt"
python3 -m benchmarks.cli bench --device gpu --out "$out/bench" 2>&1 | tee "$out/bench.txt"
