"""Fashion-MNIST's four IDX files: found, verified, downloaded; never half-written, never trusted unread."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from dropout_ports.common.progress import show_progress

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
# The first address serves the files as they are; the second is upstream's own bucket, over http
# (it has no https endpoint): every file is checked against its sha256 either way.
MIRRORS = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)
DOWNLOAD_TIMEOUT_S = 30.0
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class IdxFile:
    name: str  # the upstream file name, without .gz
    sha256: str  # of the decompressed bytes: Debian's .gz differ from upstream's, the content does not
    shape: tuple[int, ...]

    @property
    def magic(self) -> int:
        return 0x0800 | len(self.shape)  # unsigned bytes, then the number of dimensions


FILES = {
    "train_x": IdxFile(
        "train-images-idx3-ubyte",
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        (60000, 28, 28),
    ),
    "train_y": IdxFile(
        "train-labels-idx1-ubyte",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        (60000,),
    ),
    "test_x": IdxFile(
        "t10k-images-idx3-ubyte",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        (10000, 28, 28),
    ),
    "test_y": IdxFile(
        "t10k-labels-idx1-ubyte",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        (10000,),
    ),
}

HOW_TO_FIX = (
    "To fix it: install Debian's package (apt-get install dataset-fashion-mnist), "
    "or put the four IDX .gz files in a folder and pass data_dir= / --data-dir or set "
    "$FASHION_MNIST_DIR, or delete the bad file and load again with download=True."
)


class DatasetError(RuntimeError):
    """The data set is missing, unreadable, truncated or altered; the message names the file and the fixes."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dropout-ports" / "fashion-mnist"


def search_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The folders looked in, in order: an explicit data_dir alone, else the usual places."""
    if data_dir is not None:
        return [Path(data_dir)]
    dirs = [os.environ.get("FASHION_MNIST_DIR"), cache_dir(), DEBIAN_DIR]
    return [Path(d) for d in dirs if d]


def find_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The first folder holding any of the files (it must then hold all of them), else None."""
    for folder in search_dirs(data_dir):
        if any(local_file(folder, f) for f in FILES.values()):
            return folder
    return None


def locate_or_download(data_dir: str | os.PathLike | None, download: bool) -> Path:
    """The folder to read: found, or filled by a download (into data_dir when given, else the cache)."""
    folder = find_data_dir(data_dir)
    if folder is not None:
        return folder
    looked = ", ".join(str(d) for d in search_dirs(data_dir))
    if data_dir is not None and Path(data_dir).exists() and not Path(data_dir).is_dir():
        raise DatasetError(f"data_dir {data_dir} is a file, not a folder. {HOW_TO_FIX}")
    if not download:
        raise DatasetError(f"Fashion-MNIST not found (looked in {looked}). {HOW_TO_FIX}")
    folder = Path(data_dir) if data_dir is not None else cache_dir()
    download_files(folder)
    return folder


def read_idx_folder(folder: Path) -> dict[str, np.ndarray]:
    """The four verified uint8 arrays of a folder; the files are read in parallel (zlib frees the GIL)."""

    def read(spec: IdxFile) -> np.ndarray:
        path = local_file(folder, spec)
        if path is None:
            raise DatasetError(f"{folder / (spec.name + '.gz')} is missing. {HOW_TO_FIX}")
        return read_idx(path, spec)

    with ThreadPoolExecutor(max_workers=len(FILES)) as pool:
        return dict(zip(FILES, pool.map(read, FILES.values()), strict=True))


def read_idx(path: Path, spec: IdxFile) -> np.ndarray:
    """Decompress (if gzip), verify (sha256 and IDX header) and parse one file."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DatasetError(f"{path} cannot be read ({err.strerror or err}). {HOW_TO_FIX}") from err
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = zlib.decompress(raw, wbits=31)  # 31: a gzip wrapper
        except zlib.error as err:
            raise DatasetError(f"{path} is truncated or corrupt ({err}). {HOW_TO_FIX}") from err
    if hashlib.sha256(raw).hexdigest() != spec.sha256:
        raise DatasetError(f"{path} has altered or truncated content (sha256 mismatch). {HOW_TO_FIX}")
    header = np.frombuffer(raw, ">u4", count=1 + len(spec.shape))
    if int(header[0]) != spec.magic or tuple(int(d) for d in header[1:]) != spec.shape:
        raise DatasetError(f"{path} has an unexpected IDX header {header.tolist()}. {HOW_TO_FIX}")
    return np.frombuffer(raw, np.uint8, offset=4 * len(header)).reshape(spec.shape)


def download_files(folder: Path, mirrors: tuple[str, ...] | None = None) -> None:
    """Fetch the missing files into folder; each lands by atomic rename only once verified."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = tempfile.TemporaryFile(dir=folder)
    except OSError as err:
        raise DatasetError(f"cannot write the download folder {folder}: {err.strerror or err}") from err
    probe.close()
    for spec in FILES.values():
        if local_file(folder, spec) is None:
            _download_one(folder, spec, mirrors or MIRRORS)


def _download_one(folder: Path, spec: IdxFile, mirrors: tuple[str, ...]) -> None:
    errors = []
    for mirror in mirrors:
        url = mirror + spec.name + ".gz"
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(fd, "wb") as out:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(
                    total=total,
                    unit="B",
                    unit_scale=True,
                    desc=spec.name,
                    leave=False,
                    disable=not show_progress(),
                ) as bar:
                    while chunk := response.read(1 << 20):
                        out.write(chunk)
                        bar.update(len(chunk))
            read_idx(Path(tmp), spec)
            os.replace(tmp, folder / (spec.name + ".gz"))
            return
        except (OSError, DatasetError) as err:
            errors.append(f"{url}: {err}")
        finally:
            Path(tmp).unlink(missing_ok=True)
    raise DatasetError(f"could not download {spec.name}.gz: {'; '.join(errors)}. {HOW_TO_FIX}")


def local_file(folder: Path, spec: IdxFile) -> Path | None:
    for candidate in (folder / (spec.name + ".gz"), folder / spec.name):
        if candidate.is_file():
            return candidate
    return None
