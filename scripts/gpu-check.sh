#!/usr/bin/env bash
# The GPU checks, as one script for a lent GPU machine (its frameworks preinstalled, no network,
# our package not installed). Here, first: mkdir -p data && cp /usr/share/datasets/fashion-mnist/*.gz data/
# then run `bash scripts/gpu-check.sh` there with `data` carried. It runs, each step under a time
# limit so that one slow step cannot cost the others (about 10 minutes in all):
#   the gpu-marked tests (conformance on CUDA, torch's eager step free of host syncs, its CUDA-graph
#   loop drawing eager's masks, JAX's step and scan loops as one run, matmul precisions);
#   bench --device gpu: the dropout op, and epochs of every port in both loops at full float32;
#   the training epochs again at TF32 (the suite alone); the compiled study on the GPU; one
#   data-parallel replica beside the chapter's path (its overhead alone, within 10%?).
# It writes docs/runs/bench-gpu and docs/studies/compiled-gpu (in $OUT/gpu.tgz when $OUT is set:
# unpack it at the repo root), and their logs beside them.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# The package is not installed there: a folder holding dropout_ports/{backends,common,benchmarks}
# as links to this checkout puts the import package on the path, as an install would.
farm=$(mktemp -d)
mkdir -p "$farm/dropout_ports"
for part in backends common benchmarks; do ln -s "$root/$part" "$farm/dropout_ports/$part"; done
export PYTHONPATH=$farm FASHION_MNIST_DIR=$root/data PYTHONUNBUFFERED=1
work=$(mktemp -d)
runs=$work/docs/runs/bench-gpu
mkdir -p "$runs" "$work/docs/studies"
cli=(python3 -m dropout_ports.benchmarks.cli)  # an array, not a function: timeout runs it
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$runs/gpu.txt"
"${cli[@]}" info | tee -a "$runs/gpu.txt"
python3 -c "import numpy, scipy, threadpoolctl, tqdm, matplotlib" 2>&1 | tee "$runs/missing.txt"  # our own dependencies
timeout "${PYTEST_S:-150}" python3 -m pytest -m gpu -q -p no:cacheprovider 2>&1 | tail -n 60 > "$runs/pytest-gpu.txt"
# bench refuses a folder that holds results: it writes a fresh one, moved into place after.
timeout "${BENCH_S:-200}" "${cli[@]}" bench --device gpu --quiet --out "$work/bench" > "$runs/bench.txt" 2>&1 \
  && mv "$work"/bench/* "$runs/"
timeout "${TF32_S:-60}" python3 -m dropout_ports.benchmarks.suites.epochs --device gpu --matmul-precision tf32 \
  --out "$runs/epochs-tf32.json" > "$runs/epochs-tf32.txt" 2>&1
# torch eager, torch.compile, JAX's jit and Flax NNX on the GPU, each run in a process of its own.
timeout "${STUDY_S:-80}" "${cli[@]}" study compiled --device gpu --backends torch jax --seeds 0 1 --quiet \
  --out "$work/docs/studies/compiled-gpu" > "$runs/study.txt" 2>&1
# Data parallel, one replica on the GPU: the data-parallel path's samples/s beside the chapter's path.
timeout "${REPLICAS_S:-80}" python3 -m dropout_ports.benchmarks.suites.replicas --device gpu --backends torch jax \
  --out "$runs/replicas.json" > "$runs/replicas.txt" 2>&1
tail -n 5 "$runs"/*.txt
rm -rf "$farm"
if [ -n "${OUT:-}" ]; then
  tar czf "$OUT/gpu.tgz" -C "$work" docs
else
  for folder in runs/bench-gpu studies/compiled-gpu; do
    if [ -d "$work/docs/$folder" ]; then rm -rf "docs/$folder" && cp -r "$work/docs/$folder" "docs/$folder"; fi
  done
fi
