#!/usr/bin/env bash
# Idempotent set-up of one environment and the Fashion-MNIST files.
#   bash scripts/setup.sh                  .venv with every framework (extra "all": TensorFlow and
#                                          tensorflow-datasets included)
# Re-running does nothing unless pyproject.toml or constraints.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${1:-.venv}
extras=${2:-all}
python=${PYTHON:-python3}
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"

wanted=$(cat pyproject.toml constraints.txt <(echo "$extras") | sha256sum | cut -d' ' -f1)
if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$wanted" ]; then
    echo "setup: installing dropout-ports[$extras] into $venv (once; a few GB)"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -c constraints.txt -e ".[$extras]"
    echo "$wanted" > "$venv/.installed"
fi

# Debian ships the real IDX files; elsewhere the first load downloads them into the cache.
if ! "$venv/bin/python" -c "import sys; from dropout_ports.common.data import find_data_dir; sys.exit(find_data_dir() is None)"; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "setup: installing Debian's dataset-fashion-mnist"
        apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null
    else
        echo "setup: fetching Fashion-MNIST into the cache"
        "$venv/bin/python" -c "from dropout_ports.common.data import load_fashion_mnist; load_fashion_mnist()"
    fi
fi
