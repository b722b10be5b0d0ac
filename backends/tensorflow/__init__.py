"""TensorFlow port: masks from an explicit ``tf.random.Generator``, steps as tf.functions.

Variant "scratch" is the chapter's hand-written dropout and net (models.ScratchNet), its masks
32-bit integer compares drawn from the trainer's Generator (masks.py says why a Generator and not
stateless seeds); "builtin" is the chapter's concise Keras ``Sequential`` with
``tf.keras.layers.Dropout`` (Keras 3 on TensorFlow), each layer seeded explicitly from the run's
seed (models.keras_seed); "compiled" is the scratch step under XLA (``jit_compile=True``), handed
masks drawn outside XLA from the same generator in the same order, so it is the scratch run.

DataParallelTrainer (parallel.py): replicas over ``tf.distribute.MirroredStrategy`` on logical
CPU devices (or GPUs), the scratch variant's masks by example as in the other ports, or from a
Generator per replica.
"""

from dropout_ports.backends.tensorflow.masks import keep_mask
from dropout_ports.backends.tensorflow.models import ScratchNet, builtin_net
from dropout_ports.backends.tensorflow.ops import (
    DTYPES,
    KERAS_BACKEND,
    MATMUL_PRECISIONS,
    NAME,
    PRNG_IMPLS,
    VARIANTS,
    asarray,
    builtin_dropout,
    chapter_dropout,
    copy,
    device_loop,
    devices,
    dropout,
    jit,
    make_rng,
    matmul,
    matmul_precision,
    output_and_gradient,
    peak_device_memory,
    ready,
    resolve_device,
    to_numpy,
    versions,
)
from dropout_ports.backends.tensorflow.parallel import DataParallelTrainer
from dropout_ports.backends.tensorflow.trainer import Trainer

PEERS: dict = {}  # Keras 3 on TensorFlow is bench --peers' peer here (KERAS_BACKEND)

__all__ = [
    "DTYPES",
    "KERAS_BACKEND",
    "MATMUL_PRECISIONS",
    "NAME",
    "PEERS",
    "PRNG_IMPLS",
    "VARIANTS",
    "DataParallelTrainer",
    "ScratchNet",
    "Trainer",
    "asarray",
    "builtin_dropout",
    "builtin_net",
    "chapter_dropout",
    "copy",
    "device_loop",
    "devices",
    "dropout",
    "jit",
    "keep_mask",
    "make_rng",
    "matmul",
    "matmul_precision",
    "output_and_gradient",
    "peak_device_memory",
    "ready",
    "resolve_device",
    "to_numpy",
    "versions",
]
