"""The PyTorch port's contract operations: generators, tensors, devices, and dropout (ours and torch's)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from dropout_ports.backends.torch.masks import apply_keep, keep_mask
from dropout_ports.common.checks import (
    check_input,
    check_precision,
    check_rate,
    check_rng,
    check_seed,
    check_training,
)
from dropout_ports.common.masks import mask_shape
from dropout_ports.common.timing import host_loop

NAME = "torch"
KERAS_BACKEND = "torch"
VARIANTS = ("scratch", "builtin", "compiled")  # compiled: scratch under torch.compile
DTYPES = ("float16", "bfloat16", "float32", "float64")
PRNG_IMPLS = ("torch",)  # torch.Generator: Mersenne Twister on the CPU, Philox on CUDA
copy = torch.clone
matmul = torch.matmul
# Config.matmul_precision -> torch's float32 matmul precision ("high": TF32 on NVIDIA GPUs since Ampere,
# and it sets oneDNN's float32 matmul flag to TF32 too)
TORCH_PRECISIONS = {"highest": "highest", "tf32": "high"}
MATMUL_PRECISIONS = tuple(TORCH_PRECISIONS)


@contextlib.contextmanager
def matmul_precision(precision: str) -> Iterator[None]:
    """float32 matmuls inside at precision. torch's setting is process-wide, so it is set on entry
    and the previous one restored on exit: no caller's choice leaks into another's work. Where it
    already holds, nothing is set (setting it also pins torch's newer per-backend flags)."""
    wanted = TORCH_PRECISIONS[check_precision(precision, MATMUL_PRECISIONS)]
    previous = torch.get_float32_matmul_precision()
    if previous == wanted:
        yield
        return
    torch.set_float32_matmul_precision(wanted)
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)


def versions() -> dict[str, str]:
    return {"torch": torch.__version__}


def blas_libraries() -> list[dict]:
    """torch's own BLAS, described as threadpoolctl describes a library: the wheels link it in
    statically (MKL on x86), where threadpoolctl, which finds shared libraries, cannot see it."""
    build = torch.__config__.show()
    blas = re.search(r"BLAS_INFO=(\w+)", build)
    if blas is None:
        return []
    version = re.search(r"Math Kernel Library Version ([\d.]+)", build) if blas[1] == "mkl" else None
    return [
        {
            "user_api": "blas",
            "internal_api": blas[1],
            "version": version[1] if version else None,
            "num_threads": torch.get_num_threads(),
            "linked_into": "torch",
        }
    ]


def devices() -> list[str]:
    return ["cpu"] + [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]


def resolve_device(device: str | torch.device) -> torch.device:
    """A torch.device for "cpu", "cuda", "cuda:N" or "gpu"; never a silent fall-back to the CPU."""
    try:
        dev = torch.device("cuda" if device == "gpu" else device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {device!r}; use 'cpu', 'cuda' or 'cuda:N'") from err
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {device!r} asked for, but this torch {torch.__version__} sees no CUDA device"
            )
        if (dev.index or 0) >= torch.cuda.device_count():
            raise ValueError(
                f"device {device!r} asked for, but only {torch.cuda.device_count()} CUDA devices exist"
            )
    elif dev.type != "cpu":
        raise ValueError(f"unsupported device {device!r}; use 'cpu', 'cuda' or 'cuda:N'")
    return dev


def make_rng(seed: int, device: str | torch.device = "cpu", *, impl: str | None = None) -> torch.Generator:
    """A generator on the device whose tensors it will draw masks for."""
    seed = check_seed(seed)
    if impl not in (None, *PRNG_IMPLS):
        raise ValueError(f"torch has one generator kind here, {PRNG_IMPLS[0]!r}; got impl {impl!r}")
    return seeded_generator(seed, resolve_device(device))


def seeded_generator(seed: int, device: torch.device) -> torch.Generator:
    """A generator from any seed torch takes (below 2^63): derived streams (common.streams) use
    the whole range, where make_rng's seeds are the ports' common [0, 2^32)."""
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


def default_generator(device: torch.device) -> torch.Generator:
    """torch's global generator on device: the one nn.Dropout draws from there."""
    if device.type == "cpu":
        return torch.default_generator
    index = torch.cuda.current_device() if device.index is None else device.index
    return torch.cuda.default_generators[index]


RNG = "a torch.Generator (make_rng); torch's global generator is never used"


def asarray(a: object, dtype: str | None = None, device: str | None = None) -> torch.Tensor:
    if dtype is not None and dtype not in DTYPES:
        raise TypeError(f"unsupported dtype {dtype!r}; supported: {DTYPES}")
    torch_dtype = getattr(torch, dtype) if dtype else None
    return torch.as_tensor(np.asarray(a), dtype=torch_dtype, device=resolve_device(device or "cpu"))


def to_numpy(x: torch.Tensor) -> np.ndarray:
    """x on the host; bfloat16, which NumPy lacks, comes back as float32."""
    x = x.detach().cpu()
    return (x.float() if x.dtype == torch.bfloat16 else x).numpy()


def jit(fn: Callable) -> Callable:
    """Eager, as the chapter runs it (torch.compile is a variant of its own, not this)."""
    return fn


device_loop = host_loop  # eager ops run from the host (the trainer's CUDA graph captures whole steps)


def ready(x: torch.Tensor) -> torch.Tensor:
    """x once computed: CUDA kernels run asynchronously."""
    if x.is_cuda:
        torch.cuda.synchronize(x.device)
    return x


def peak_device_memory(device: str) -> int | None:
    """CUDA memory allocated at peak by this process (torch's own allocator); None on the CPU."""
    dev = resolve_device(device)
    return torch.cuda.max_memory_allocated(dev) if dev.type == "cuda" else None


def output_and_gradient(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """fn(x) and the gradient of its sum with respect to x, by autograd (the conformance kit's
    gradient check: dropout's is the mask / (1 - p))."""
    x = x.detach().requires_grad_()
    out = fn(x)
    (grad,) = torch.autograd.grad(out.sum(), x)
    return out.detach(), grad


def chapter_dropout(x: torch.Tensor, p: float, rng: torch.Generator) -> torch.Tensor:
    """D2L's ``dropout_layer``: ``(torch.rand(X.shape) > p).float() * X / (1 - p)``, drawn on
    x's device (the chapter's CPU draw breaks on a GPU)."""
    check_rng(rng, torch.Generator, RNG)
    mask = (torch.rand(x.shape, generator=rng, device=x.device) > p).float()
    return mask * x / (1.0 - p)


def dropout(
    x: torch.Tensor,
    p: float,
    rng: torch.Generator,
    *,
    training: bool = True,
    broadcast_dims: tuple[int, ...] = (),
) -> torch.Tensor:
    """Inverted dropout with the mask drawn by rng on x's device, applied in x's dtype; x itself
    when not training or at p = 0."""
    p, training = checked(x, p, rng, training)
    shape = mask_shape(tuple(x.shape), broadcast_dims)
    edge = passed_or_zeroed(x, p, training)
    return edge if edge is not None else apply_keep(x, keep_mask(rng, shape, p), p)


def checked(x: object, p: object, rng: object, training: object) -> tuple[float, bool]:
    """The rate and training flag, after the contract's checks of every argument (common.checks)."""
    p = check_rate(p)
    check_rng(rng, torch.Generator, RNG)
    check_input(x, torch.Tensor, "a torch.Tensor (asarray)", torch.Tensor.is_floating_point)
    return p, check_training(training)


def passed_or_zeroed(x: torch.Tensor, p: float, training: bool) -> torch.Tensor | None:
    """x itself when not training or at p = 0; zeros at p = 1 with a zero gradient even where x is
    inf or nan (x * 0 would give nan, as F.dropout does); None where a mask is needed."""
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return torch.where(torch.zeros((), dtype=torch.bool, device=x.device), x, 0.0)
    return None


def builtin_dropout(
    x: torch.Tensor,
    p: float,
    rng: torch.Generator,
    *,
    training: bool = True,
    broadcast_dims: tuple[int, ...] = (),
) -> torch.Tensor:
    """torch's own ``F.dropout`` behind our signature, for comparing it with ours.

    F.dropout draws from torch's global generator and has no broadcast_dims; to make it
    reproducible from rng, it runs under ``fork_rng`` seeded from rng. torch.manual_seed reseeds
    every CUDA device's generator and fork_rng restores the CPU's and x's device's only: on a
    machine with several GPUs the others stay reseeded. At p = 0, p = 1 and in evaluation it
    answers as ``dropout`` does, without a draw.
    """
    p, training = checked(x, p, rng, training)
    if broadcast_dims:
        raise ValueError("torch's F.dropout has no broadcast_dims (nn.Dropout1d/2d/3d drop whole channels)")
    edge = passed_or_zeroed(x, p, training)
    if edge is not None:
        return edge
    seed = int(torch.randint(0, 2**62, (), generator=rng, device=rng.device))
    with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
        torch.manual_seed(seed)
        return F.dropout(x, p, training=training)
