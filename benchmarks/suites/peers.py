"""``bench --peers``: other code training the same MLP on the same data, batch size and epochs,
timed as the ports are (the median epoch after the first) and with its test accuracy.

Peers: Keras 3 on each port's framework that Keras can train on (the same MLP with ``Dropout``
layers, ``SGD(0.5)``, ``RandomNormal(stddev=0.01)``; the optional extra ``peers``), and the
recipes a port lists in its ``PEERS`` (torch: the chapter's own DataLoader training). Each peer
runs in a fresh process: Keras picks its backend once per process, and no peer shares a process
with a port. Run one alone: python -m dropout_ports.benchmarks.suites.peers BACKEND PEER [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from importlib.util import find_spec

from dropout_ports.backends import get_backend
from dropout_ports.benchmarks.results.tables import Column
from dropout_ports.benchmarks.suites.targets import PEER_SPEEDUPS, QUICK_WORDS
from dropout_ports.common.config import Config
from dropout_ports.common.data import Dataset, load_fashion_mnist, synthetic_dataset

KERAS = "Keras 3"
PEER_TIMEOUT_S = 900


def peer_names(names: list[str]) -> list[tuple[str, str]]:
    """(backend, peer) for every peer of the named backends."""
    pairs = []
    for name in names:
        backend = get_backend(name)
        if backend.KERAS_BACKEND is not None:
            pairs.append((name, KERAS))
        pairs += [(name, peer) for peer in backend.PEERS]
    return pairs


def train_keras(keras_backend: str, cfg: Config, data: Dataset) -> dict:
    """The chapter's MLP in Keras 3, as its users would write it."""
    if find_spec("keras") is None:
        raise ImportError("Keras 3 is not installed: pip install 'dropout-ports[peers]'")
    os.environ["KERAS_BACKEND"] = keras_backend  # read once, when keras is first imported
    import keras

    keras.utils.set_random_seed(cfg.seed)
    init = keras.initializers.RandomNormal(stddev=0.01)
    layers: list = [keras.Input((data.train_x.shape[1],))]
    for hidden, p in zip(cfg.num_hiddens, cfg.dropouts, strict=True):
        layers += [
            keras.layers.Dense(hidden, activation="relu", kernel_initializer=init),
            keras.layers.Dropout(p),
        ]
    layers.append(keras.layers.Dense(10, kernel_initializer=init))
    model = keras.Sequential(layers)
    model.compile(
        optimizer=keras.optimizers.SGD(cfg.lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    seconds: list[float] = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            seconds.append(time.perf_counter() - self.start)

    model.fit(data.train_x, data.train_y, batch_size=cfg.batch_size, epochs=cfg.epochs, shuffle=True,
              verbose=0, callbacks=[EpochTimer()])  # fmt: skip
    _, accuracy = model.evaluate(data.test_x, data.test_y, batch_size=1024, verbose=0)
    return {"seconds": seconds, "test_acc": float(accuracy), "version": f"keras {keras.__version__}"}


def train_peer(backend: str, peer: str, cfg: Config, data: Dataset) -> dict:
    module = get_backend(backend)
    if peer == KERAS:
        return train_keras(module.KERAS_BACKEND, cfg, data)
    return module.PEERS[peer](cfg, data)


def run(names: list[str], cfg: Config, quick: bool = False) -> list[dict]:
    """One row per peer, each trained in a fresh process; a peer that fails says why in its row."""
    rows = []
    for backend, peer in peer_names(names):
        command = [
            sys.executable,
            "-m",
            "dropout_ports.benchmarks.suites.peers",
            backend,
            peer,
            "--epochs",
            str(cfg.epochs),
        ]
        row: dict = {"backend": backend, "peer": peer}
        try:
            done = subprocess.run(command + (["--quick"] if quick else []), capture_output=True, text=True,
                                  timeout=PEER_TIMEOUT_S, check=False)  # fmt: skip
        except subprocess.TimeoutExpired:
            rows.append({**row, "error": f"timed out after {PEER_TIMEOUT_S} s"})
            continue
        if done.returncode != 0:
            rows.append({**row, "error": (done.stderr.strip().splitlines() or ["no output"])[-1]})
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        later = result["seconds"][1:] or result["seconds"]
        rows.append({**row, "first_epoch_s": result["seconds"][0], "epoch_s": statistics.median(later),
                     "test_acc": result["test_acc"], "version": result.get("version", "")})  # fmt: skip
    return rows


def add_speedups(rows: list[dict], port_rows: list[dict], quick: bool = False) -> None:
    """Each peer's epoch over its framework's scratch epoch in the port's own loop (the first of a
    port's rows: epochs.run times each port's loops in its LOOPS order), and the target for it
    (not judged at --quick sizes)."""
    scratch: dict[str, float] = {}
    for row in port_rows:
        if row["variant"] == "scratch":
            scratch.setdefault(row["backend"], row["epoch_s"])
    for row in rows:
        if "epoch_s" in row and row["backend"] in scratch:
            row["port_epoch_s"] = scratch[row["backend"]]
            row["speedup"] = row["epoch_s"] / row["port_epoch_s"]
            row["target"] = PEER_SPEEDUPS.get(row["peer"])
            row["judged"] = not quick


def _target(row: dict) -> str:
    if row.get("target") is None or "speedup" not in row:
        return "-"
    if not row.get("judged", True):
        return f"{row['target']:g}x: {QUICK_WORDS}"
    met = float(f"{row['speedup']:.2f}") >= row["target"]  # the figure the reader sees
    return f"{row['target']:g}x: {'met' if met else 'missed'}"


COLUMNS: list[Column] = [
    ("peer", lambda r: f"{r['peer']} on {r['backend']}"),
    ("first epoch s", lambda r: f"{r['first_epoch_s']:.2f}" if "epoch_s" in r else "-"),
    ("epoch s", lambda r: f"{r['epoch_s']:.2f}" if "epoch_s" in r else r.get("error", "-")),
    ("test acc", lambda r: f"{r['test_acc']:.4f}" if "test_acc" in r else "-"),
    ("port scratch epoch s", lambda r: f"{r['port_epoch_s']:.2f}" if "port_epoch_s" in r else "-"),
    ("port faster by", lambda r: f"{r['speedup']:.2f}x" if "speedup" in r else "-"),
    ("target", _target),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backend")
    parser.add_argument("peer")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    data = synthetic_dataset(4096, 256) if args.quick else load_fashion_mnist()
    print(json.dumps(train_peer(args.backend, args.peer, Config(epochs=args.epochs), data)))


if __name__ == "__main__":
    main()
