"""The TensorFlow port's contract operations: generators, tensors, devices, and dropout (ours and
Keras's)."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator

# TF logs its oneDNN notice and CPU feature guard at INFO on import, on every command's stderr; and
# it would take a GPU's whole memory when it first uses one, leaving none for another framework in
# the process (the benchmarks time the ports side by side). Both are defaults a user may override.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")

import numpy as np
import tensorflow as tf

from dropout_ports.backends.tensorflow.masks import apply_keep, keep_mask
from dropout_ports.common.checks import (
    check_input,
    check_precision,
    check_rate,
    check_rng,
    check_seed,
    check_training,
)
from dropout_ports.common.masks import mask_shape

NAME = "tensorflow"
KERAS_BACKEND = "tensorflow"
VARIANTS = ("scratch", "builtin", "compiled")  # compiled: the scratch step under XLA (jit_compile=True)
DTYPES = ("float16", "bfloat16", "float32", "float64")
# tf.random.Generator's algorithms that run outside XLA: Philox (its default). ThreeFry is XLA-only
# in TF 2.21 ("Non-XLA devices don't support the ThreeFry algorithm").
PRNG_IMPLS = ("philox",)
matmul = tf.linalg.matmul
# Config.matmul_precision -> TF's TensorFloat-32 switch (on by default: TF computes float32 matmuls
# on NVIDIA GPUs since Ampere in TF32 unless told not to; a CPU computes them in float32 either way)
TF32_EXECUTION = {"highest": False, "tf32": True}
MATMUL_PRECISIONS = tuple(TF32_EXECUTION)


@contextlib.contextmanager
def matmul_precision(precision: str) -> Iterator[None]:
    """float32 matmuls inside at precision. TF's switch is process-wide, so it is set on entry and
    the previous setting restored on exit, as in the torch port; where it already holds, nothing."""
    wanted = TF32_EXECUTION[check_precision(precision, MATMUL_PRECISIONS)]
    previous = tf.config.experimental.tensor_float_32_execution_enabled()
    if previous == wanted:
        yield
        return
    tf.config.experimental.enable_tensor_float_32_execution(wanted)
    try:
        yield
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(previous)


def versions() -> dict[str, str]:
    return {"tensorflow": tf.__version__, "keras": tf.keras.__version__}


def devices() -> list[str]:
    return [f"{d.name.removeprefix('/device:')} ({d.device_type})" for d in tf.config.list_logical_devices()]


def resolve_device(device: str) -> str:
    """TF's name for this process's first device of a kind: "cpu", or "gpu"/"cuda"; none is a
    clear error, never a silent fall-back to the CPU (TF's own soft placement)."""
    kind = {"cpu": "CPU", "gpu": "GPU", "cuda": "GPU"}.get(device) if isinstance(device, str) else None
    if kind is None:
        raise ValueError(f"unknown device {device!r}; use 'cpu' or 'gpu'")
    found = tf.config.list_logical_devices(kind)
    if not found:
        raise ValueError(f"device {device!r} asked for, but this tensorflow {tf.__version__} has none")
    return found[0].name


def make_rng(seed: int, device: str = "cpu", *, impl: str | None = None) -> tf.random.Generator:
    """A tf.random.Generator (Philox) on the device whose tensors it will draw masks for."""
    seed = check_seed(seed)
    if impl not in (None, *PRNG_IMPLS):
        raise ValueError(f"TensorFlow's generator here is {PRNG_IMPLS[0]!r}; got impl {impl!r}")
    return seeded_generator(seed, resolve_device(device))


def seeded_generator(seed: int, device: str) -> tf.random.Generator:
    """A generator from any integer seed (derived streams, common.streams, use 63 bits), its state
    variable on device."""
    with tf.device(device):
        return tf.random.Generator.from_seed(seed, alg=PRNG_IMPLS[0])


RNG = "a tf.random.Generator (make_rng); TF's global seed and op seeds are never used"


def asarray(a: object, dtype: str | None = None, device: str | None = None) -> tf.Tensor:
    if dtype is not None and dtype not in DTYPES:
        raise TypeError(f"unsupported dtype {dtype!r}; supported: {DTYPES}")
    with tf.device(resolve_device(device or "cpu")):
        tensor = tf.convert_to_tensor(np.asarray(a))
        return tensor if dtype is None else tf.cast(tensor, dtype)


def to_numpy(x: tf.Tensor) -> np.ndarray:
    """x on the host; bfloat16, which NumPy lacks, comes back as float32 as in the other ports."""
    return (tf.cast(x, tf.float32) if x.dtype == tf.bfloat16 else x).numpy()


def copy(x: tf.Tensor) -> tf.Tensor:
    """A real copy: tf.identity hands back the same buffer on the device it is on."""
    return tf.raw_ops.DeepCopy(x=x)


def jit(fn: Callable) -> Callable:
    """tf.function: TF's own graph compiler, as TF code runs by default (XLA, ``jit_compile=True``,
    is opt-in: the compiled variant's)."""
    return tf.function(fn)


def device_loop(fn: Callable, steps: int) -> Callable:
    """fn(*args) steps times in one tf.function, its loop a tf.while_loop (AutoGraph), the last
    outputs returned."""

    @tf.function
    def run(*args: tf.Tensor) -> object:
        outs = fn(*args)
        for _ in tf.range(steps - 1):
            outs = fn(*args)
        return outs

    return run


def ready(x: tf.Tensor) -> tf.Tensor:
    """x once computed: GPU kernels run asynchronously (a CPU's eager ops return when done)."""
    if "GPU" in x.device:
        tf.test.experimental.sync_devices()
    return x


def peak_device_memory(device: str) -> int | None:
    """The GPU allocator's peak bytes in use (TF's memory info); None on the CPU."""
    name = resolve_device(device)
    return tf.config.experimental.get_memory_info(name)["peak"] if "GPU" in name else None


def output_and_gradient(fn: Callable[[tf.Tensor], tf.Tensor], x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """fn(x) and the gradient of its sum with respect to x, by GradientTape; zeros where the output
    does not depend on x (p = 1), as the other ports give (the conformance kit's gradient check)."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = fn(x)
        total = tf.reduce_sum(out)
    return out, tape.gradient(total, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)


def chapter_dropout(x: tf.Tensor, p: float, rng: tf.random.Generator) -> tf.Tensor:
    """D2L's TF ``dropout_layer``: a float uniform per element, compared with 1 - p and cast to
    float32, as the chapter writes it (so, as there, a float64 x is an error), drawn from rng."""
    check_rng(rng, tf.random.Generator, RNG)
    mask = rng.uniform(tf.shape(x), minval=0, maxval=1) < 1 - p
    return tf.cast(mask, dtype=tf.float32) * x / (1.0 - p)


def checked(x: object, p: object, rng: object, training: object) -> tuple[float, bool]:
    """The rate and training flag, after the contract's checks of every argument (common.checks);
    under tf.function they run at trace time, so a bad argument never reaches a graph."""
    p = check_rate(p)
    check_rng(rng, tf.random.Generator, RNG)
    check_input(x, tf.Tensor, "a tf.Tensor (asarray)", lambda a: a.dtype.is_floating)
    return p, check_training(training)


def passed_or_zeroed(x: tf.Tensor, p: float, training: bool) -> tf.Tensor | None:
    """x itself when not training or at p = 0; zeros at p = 1, which do not depend on x (a zero
    gradient even where x is inf or nan); None where a mask is needed."""
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return tf.zeros_like(x)
    return None


def drawn_shape(x: tf.Tensor, broadcast_dims: tuple[int, ...]) -> tuple[int, ...] | tf.Tensor:
    """The mask's shape (common.masks.mask_shape); a tensor where tf.function left x's size unknown."""
    shape = mask_shape(tuple(x.shape), broadcast_dims)
    if None not in shape:
        return shape
    sizes = tf.shape(x)
    return tf.stack([sizes[i] if size is None else size for i, size in enumerate(shape)])


def dropout(
    x: tf.Tensor,
    p: float,
    rng: tf.random.Generator,
    *,
    training: bool = True,
    broadcast_dims: tuple[int, ...] = (),
) -> tf.Tensor:
    """Inverted dropout with the mask drawn by rng (which advances), applied in x's dtype on x's
    device; x itself when not training or at p = 0."""
    p, training = checked(x, p, rng, training)
    shape = drawn_shape(x, broadcast_dims)
    edge = passed_or_zeroed(x, p, training)
    if edge is not None:
        return edge
    with tf.device(x.device):
        return apply_keep(x, keep_mask(rng, shape, p), p)


def keras() -> object:
    """tf.keras, once checked to be Keras 3 on TensorFlow: Keras picks its backend once, when first
    imported (KERAS_BACKEND), and on another it would hand back that framework's arrays."""
    backend = tf.keras.backend.backend()
    if backend != "tensorflow":
        raise ValueError(
            f"Keras runs on {backend} in this process (KERAS_BACKEND={os.environ.get('KERAS_BACKEND')!r}): "
            "the tensorflow port's builtin dropout needs KERAS_BACKEND=tensorflow before Keras is imported"
        )
    return tf.keras


@functools.cache
def keras_dropout(p: float, noise_shape: tuple[int | None, ...] | None, dtype: str) -> object:
    """One Keras Dropout layer per rate, noise shape and dtype, made eagerly (tf.init_scope) even
    when first asked for inside a tf.function, which cannot create its seed variable there."""
    with tf.init_scope():
        return keras().layers.Dropout(p, noise_shape=noise_shape, seed=0, dtype=dtype)


def builtin_dropout(
    x: tf.Tensor,
    p: float,
    rng: tf.random.Generator,
    *,
    training: bool = True,
    broadcast_dims: tuple[int, ...] = (),
) -> tf.Tensor:
    """Keras 3's ``tf.keras.layers.Dropout`` on TensorFlow behind our signature, for comparing it
    with ours. The layer draws from a SeedGenerator of its own, a [seed, counter] variable fed to
    ``tf.nn.experimental.stateless_dropout`` (uniforms in x's dtype, kept where >= p); here its
    seed is drawn from rng before each call, so rng decides the mask as it does ours. At p = 0,
    p = 1 and in evaluation it answers as ``dropout`` does, without a draw."""
    p, training = checked(x, p, rng, training)
    shape = mask_shape(tuple(x.shape), broadcast_dims)
    edge = passed_or_zeroed(x, p, training)
    if edge is not None:
        return edge
    layer = keras_dropout(p, shape if broadcast_dims else None, x.dtype.name)
    layer.seed_generator.state.assign(
        tf.stack([rng.uniform_full_int((), tf.int64), tf.constant(0, tf.int64)])
    )
    with tf.device(x.device):
        return layer(x, training=True)
