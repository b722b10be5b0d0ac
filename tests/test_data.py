"""The data layer: real files verified, bad files named, nothing downloaded in tests."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from dropout_ports.common import idx_files
from dropout_ports.common.data import DatasetError, find_data_dir, load_fashion_mnist, synthetic_dataset
from dropout_ports.common.idx_files import FILES


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No environment folder, an empty cache, no Debian folder: only what a test puts there."""
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(idx_files, "DEBIAN_DIR", tmp_path / "no-debian")
    return tmp_path


@pytest.fixture(scope="module")
def real_dir() -> Path:
    folder = find_data_dir()
    if folder is None:
        pytest.fail("Fashion-MNIST is not installed: run scripts/setup.sh")
    return folder


@pytest.fixture
def copy_of_real(isolated, real_dir) -> Path:
    folder = isolated / "copy"
    folder.mkdir()
    for spec in FILES.values():
        shutil.copy(real_dir / (spec.name + ".gz"), folder)
    return folder


def test_real_data_shapes_types_and_order(fashion):
    assert fashion.train_x.shape == (60000, 784) and fashion.train_x.dtype == np.float32
    assert fashion.test_x.shape == (10000, 784) and fashion.test_x.dtype == np.float32
    assert fashion.train_y.shape == (60000,) and fashion.train_y.dtype == np.int64
    assert fashion.train_x.min() == 0.0 and fashion.train_x.max() == 1.0
    np.testing.assert_array_equal(fashion.train_y[:10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])  # the IDX order
    np.testing.assert_array_equal(np.bincount(fashion.test_y), np.full(10, 1000))


def test_loads_from_data_dir_first(copy_of_real):
    loaded = load_fashion_mnist(copy_of_real, download=False)
    assert loaded.origin == str(copy_of_real)


def test_environment_variable_is_searched(copy_of_real, monkeypatch):
    monkeypatch.setenv("FASHION_MNIST_DIR", str(copy_of_real))
    assert load_fashion_mnist(download=False).origin == str(copy_of_real)


def test_decompressed_files_are_accepted(copy_of_real):
    for spec in FILES.values():
        gz = copy_of_real / (spec.name + ".gz")
        (copy_of_real / spec.name).write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    assert load_fashion_mnist(copy_of_real, download=False).train_x.shape == (60000, 784)


def test_corrupted_file_is_named(copy_of_real):
    path = copy_of_real / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[100] ^= 1  # one label changed, gzip still valid
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz has altered"):
        load_fashion_mnist(copy_of_real, download=False)


def test_truncated_file_is_named(copy_of_real):
    path = copy_of_real / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100_000])
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz is truncated") as info:
        load_fashion_mnist(copy_of_real, download=False)
    assert "apt-get install dataset-fashion-mnist" in str(info.value)


def test_missing_file_is_named(copy_of_real):
    (copy_of_real / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte.gz is missing"):
        load_fashion_mnist(copy_of_real, download=False)


def test_nothing_found_without_download_says_where_it_looked(isolated):
    with pytest.raises(DatasetError, match="not found") as info:
        load_fashion_mnist(download=False)
    assert str(isolated / "cache") in str(info.value)


def test_download_verifies_and_lands_atomically(isolated, real_dir, monkeypatch):
    """A download from a local mirror: files land in the cache, verified, no partial files left."""
    mirror = f"file://{real_dir}/"
    monkeypatch.setattr(idx_files, "MIRRORS", ("file:///nonexistent/", mirror))
    loaded = load_fashion_mnist()
    cache = idx_files.cache_dir()
    assert loaded.origin == str(cache)
    assert sorted(p.name for p in cache.iterdir()) == sorted(s.name + ".gz" for s in FILES.values())


def test_download_of_bad_content_fails_and_leaves_nothing(isolated, copy_of_real):
    target = isolated / "target"
    shutil.copytree(copy_of_real, target)
    bad = "t10k-labels-idx1-ubyte.gz"
    (target / bad).unlink()
    (copy_of_real / bad).write_bytes(gzip.compress(b"not an idx file"))
    with pytest.raises(DatasetError, match=f"could not download {bad}"):
        idx_files.download_files(target, (f"file://{copy_of_real}/",))
    assert bad not in {p.name for p in target.iterdir()} and len(list(target.iterdir())) == 3


def test_unknown_source():
    with pytest.raises(ValueError, match="source"):
        load_fashion_mnist(source="csv")


def test_synthetic_set_is_shaped_like_the_real_one():
    small = synthetic_dataset(100, 20, seed=3)
    assert small.train_x.shape == (100, 784) and small.train_x.dtype == np.float32
    assert small.test_y.shape == (20,) and small.test_y.dtype == np.int64
    assert 0 <= small.train_x.min() and small.train_x.max() <= 1
    np.testing.assert_array_equal(small.train_x, synthetic_dataset(100, 20, seed=3).train_x)


def test_tfds_source_without_tfds_names_the_extra():
    try:
        import tensorflow_datasets  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"dropout-ports\[tfds\]"):
            load_fashion_mnist(source="tfds")
    else:
        pytest.skip("tensorflow-datasets is installed here: tests/test_tfds.py covers it")


def test_an_explicit_data_dir_is_the_only_place_looked_at(isolated, real_dir, monkeypatch):
    monkeypatch.setenv("FASHION_MNIST_DIR", str(real_dir))  # a good copy elsewhere must not be used
    empty = isolated / "empty"
    empty.mkdir()
    for folder in (empty, isolated / "missing"):
        with pytest.raises(DatasetError, match=f"looked in {folder}\\)"):
            load_fashion_mnist(folder, download=False)
    a_file = isolated / "a-file"
    a_file.write_text("x")
    with pytest.raises(DatasetError, match="is a file"):
        load_fashion_mnist(a_file, download=False)


def test_an_explicit_data_dir_is_downloaded_into(isolated, real_dir, monkeypatch):
    monkeypatch.setattr(idx_files, "MIRRORS", (f"file://{real_dir}/",))
    target = isolated / "target"
    assert load_fashion_mnist(target).origin == str(target)
    assert len(list(target.glob("*.gz"))) == 4 and not idx_files.cache_dir().exists()


def test_an_unreadable_file_says_so(copy_of_real, monkeypatch):
    original = Path.read_bytes

    def read_bytes(path: Path) -> bytes:
        if path.name.startswith("t10k-images"):
            raise PermissionError(13, "Permission denied")
        return original(path)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(
        DatasetError, match="t10k-images-idx3-ubyte.gz cannot be read \\(Permission denied\\)"
    ):
        load_fashion_mnist(copy_of_real, download=False)


def test_an_unwritable_cache_is_a_dataset_error(isolated, monkeypatch):
    blocker = isolated / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    with pytest.raises(DatasetError, match="cannot write the download folder"):
        load_fashion_mnist()


def test_the_first_mirror_is_https_and_serves_files():
    assert idx_files.MIRRORS[0].startswith("https://") and "s3-website" not in idx_files.MIRRORS[0]


@pytest.mark.network
@pytest.mark.parametrize("mirror", idx_files.MIRRORS)
def test_every_mirror_serves_every_file(mirror):
    """Opt-in (`pytest -m network`): the real addresses answer with the real files."""
    import urllib.request

    for spec in FILES.values():
        with urllib.request.urlopen(mirror + spec.name + ".gz", timeout=30) as response:
            assert response.status == 200 and response.read(2) == idx_files.GZIP_MAGIC
