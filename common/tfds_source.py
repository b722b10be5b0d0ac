"""Fashion-MNIST through tensorflow-datasets, offline: TFDS's download cache is seeded with
the local IDX files, so ``download_and_prepare`` finds every file "already downloaded".

TFDS registers sha256 sums of upstream's .gz files, and Debian's .gz differ byte-wise (no stored
name, other mtime) though they decompress to the same content. A cached file under its registered
name is trusted without re-hashing, so this module verifies the decompressed content itself
(``read_idx_folder``) before placing it there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from dropout_ports.common.idx_files import HOW_TO_FIX, DatasetError, cache_dir, find_data_dir, read_idx_folder


def read_with_tfds(
    data_dir: str | os.PathLike | None = None, *, download: bool = True
) -> tuple[dict[str, np.ndarray], str]:
    """uint8 images and labels by split (the keys of ``idx_files.FILES``), and where they came from."""
    try:
        import tensorflow_datasets as tfds
    except ImportError as err:
        raise ImportError(
            "source='tfds' needs tensorflow-datasets and TensorFlow: pip install 'dropout-ports[tfds]'"
        ) from err
    tfds_dir = cache_dir().parent / "tfds"
    builder = tfds.builder("fashion_mnist", data_dir=str(tfds_dir))
    if not builder.is_prepared():
        folder = find_data_dir(data_dir)
        if folder is not None:
            seed_download_cache(builder, folder, tfds_dir / "downloads")
        elif not download or data_dir is not None:
            raise DatasetError(f"Fashion-MNIST not found locally, so TFDS cannot prepare it. {HOW_TO_FIX}")
        builder.download_and_prepare()
    arrays = {}
    for split in ("train", "test"):
        examples = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
        arrays[f"{split}_x"], arrays[f"{split}_y"] = examples["image"], examples["label"]
    return arrays, f"tfds:{builder.data_path}"


def seed_download_cache(builder: object, folder: Path, download_dir: Path) -> None:
    """Copy the verified local files to the names TFDS's download manager looks for."""
    from tensorflow_datasets.core.download import resource

    read_idx_folder(folder)  # raises DatasetError unless every file's content is the real one
    download_dir.mkdir(parents=True, exist_ok=True)
    for url, url_info in builder.url_infos.items():
        source = folder / url_info.filename
        if not source.is_file():
            raise DatasetError(f"{source} is missing (TFDS needs the .gz files). {HOW_TO_FIX}")
        target = download_dir / resource.get_dl_fname(url, url_info.checksum)
        shutil.copyfile(source, target)
        resource.write_info_file(
            url=url,
            path=target,
            dataset_name=builder.name,
            original_fname=url_info.filename,
            url_info=url_info,
        )
