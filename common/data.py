"""Fashion-MNIST as float32 arrays, from the one loader that picks the source (IDX files or TFDS)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np

from dropout_ports.common.idx_files import DatasetError, find_data_dir, locate_or_download, read_idx_folder

__all__ = ["SOURCES", "Dataset", "DatasetError", "find_data_dir", "load_fashion_mnist", "synthetic_dataset"]

NUM_CLASSES = 10
IMAGE_PIXELS = 28 * 28
SOURCES = ("auto", "idx", "tfds")


@dataclass(frozen=True)
class Dataset:
    """Images flattened to float32 in [0, 1], labels int64, in the source's order."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    origin: str  # where it came from, for reports


def load_fashion_mnist(
    data_dir: str | os.PathLike | None = None, *, source: str = "auto", download: bool = True
) -> Dataset:
    """Fashion-MNIST from the IDX files (source "auto" or "idx") or through TFDS ("tfds").

    An explicit data_dir is the only folder looked in (and, with download, the one filled);
    without it: $FASHION_MNIST_DIR, the cache, then Debian's folder.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")
    if source == "tfds":
        from dropout_ports.common.tfds_source import read_with_tfds  # TensorFlow loads only when asked for

        arrays, origin = read_with_tfds(data_dir, download=download)
    else:
        folder = locate_or_download(data_dir, download)
        arrays, origin = read_idx_folder(folder), str(folder)
    return Dataset(
        train_x=to_unit_float(arrays["train_x"]),
        train_y=arrays["train_y"].astype(np.int64),
        test_x=to_unit_float(arrays["test_x"]),
        test_y=arrays["test_y"].astype(np.int64),
        origin=origin,
    )


def first_examples(data: Dataset, n: int) -> Dataset:
    """The first n training examples (Fashion-MNIST's are shuffled), the whole test set."""
    if n < 1:
        raise ValueError(f"the number of training examples must be at least 1, got {n}")
    return replace(
        data, train_x=data.train_x[:n], train_y=data.train_y[:n], origin=f"{data.origin} (first {n})"
    )


def synthetic_dataset(num_train: int = 2048, num_test: int = 512, seed: int = 0) -> Dataset:
    """A small learnable stand-in with Fashion-MNIST's shapes and types, for fast tests."""
    rng = np.random.default_rng(seed)
    # Sparse bright prototypes, like garments on a black background, plus pixel noise.
    lit = rng.random((NUM_CLASSES, IMAGE_PIXELS)) < 0.3
    prototypes = (lit * rng.uniform(0.5, 1.0, lit.shape)).astype(np.float32)

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, NUM_CLASSES, n)
        noise = rng.normal(0.0, 0.3, (n, IMAGE_PIXELS)).astype(np.float32)
        return np.clip(prototypes[labels] + noise, 0.0, 1.0), labels.astype(np.int64)

    train_x, train_y = sample(num_train)
    test_x, test_y = sample(num_test)
    return Dataset(train_x, train_y, test_x, test_y, origin=f"synthetic(seed={seed})")


def to_unit_float(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28[, 1]) -> float32 (N, 784) in [0, 1], divided by 255 as ToTensor does."""
    return np.divide(images.reshape(len(images), -1), np.float32(255), dtype=np.float32)
