"""The PyTorch port's contract operations: generators, tensors, devices, and dropout (ours and torch's)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from common.config import check_rate
from common.masks import keep_threshold, mask_shape

NAME = "torch"
KERAS_BACKEND = "torch"
VARIANTS = ("scratch", "builtin", "compiled")  # compiled: scratch under torch.compile
DTYPES = ("float16", "bfloat16", "float32", "float64")
PRNG_IMPLS = ("torch",)  # torch.Generator: Mersenne Twister on the CPU, Philox on CUDA
copy = torch.clone
matmul = torch.matmul


def versions() -> dict[str, str]:
    return {"torch": torch.__version__}


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
    if impl not in (None, *PRNG_IMPLS):
        raise ValueError(f"torch has one generator kind here, {PRNG_IMPLS[0]!r}; got impl {impl!r}")
    generator = torch.Generator(device=resolve_device(device))
    generator.manual_seed(seed)
    return generator


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


def ready(x: torch.Tensor) -> torch.Tensor:
    """x once computed: CUDA kernels run asynchronously."""
    if x.is_cuda:
        torch.cuda.synchronize(x.device)
    return x


def peak_device_memory(device: str) -> int | None:
    """CUDA memory allocated at peak by this process (torch's own allocator); None on the CPU."""
    dev = resolve_device(device)
    return torch.cuda.max_memory_allocated(dev) if dev.type == "cuda" else None


def chapter_dropout(x: torch.Tensor, p: float, rng: torch.Generator) -> torch.Tensor:
    """D2L's ``dropout_layer``: ``(torch.rand(X.shape) > p).float() * X / (1 - p)``, drawn on
    x's device (the chapter's CPU draw breaks on a GPU)."""
    mask = (torch.rand(x.shape, generator=rng, device=x.device) > p).float()
    return mask * x / (1.0 - p)


def keep_mask(rng: torch.Generator, shape: tuple[int, ...], p: float, device: torch.device) -> torch.Tensor:
    """Bool mask, True with probability 1 - p to within 2^-32, drawn on device.

    Uniform 32-bit integers against the threshold all ports share (``torch.rand(shape) >= p``
    resolves only 2^-24). ``random_`` fills int64 over its full range; its bytes are uniform.
    On the CPU, where random bits cost most, each element gets one byte and only ties with the
    threshold's top byte (1 in 256) draw 24 more bits, as in the NumPy port; on CUDA, bits are
    cheap and a tie pass would sync with the host, so each element gets all 32 at once.
    """
    size = math.prod(shape)
    threshold = keep_threshold(p)
    if device.type != "cpu":
        words = torch.empty((size + 1) // 2, dtype=torch.int64, device=device)
        bits = words.random_(-(2**63), None, generator=rng).view(torch.int32)[:size]
        return (bits < threshold - 2**31).view(shape)  # int32 holds the uint32 draws shifted by 2^31
    top, rest = threshold >> 24, threshold & 0xFFFFFF
    words = torch.empty((size + 7) // 8, dtype=torch.int64, device=device)
    draws = words.random_(-(2**63), None, generator=rng).view(torch.uint8)[:size]
    ties = (draws == top).nonzero().squeeze(1) if rest else None
    keep = torch.lt(draws, top, out=draws.view(torch.bool))  # in place: one fresh buffer fewer
    if ties is not None:
        keep[ties] = torch.empty(len(ties), dtype=torch.int64).random_(0, 2**24, generator=rng) < rest
    return keep.view(shape)


def apply_keep(x: torch.Tensor, keep: torch.Tensor, p: float) -> torch.Tensor:
    """The chapter's ``mask * X / (1 - p)`` with one fresh tensor (on the CPU each is page-faulted
    in); autograd gives mask / (1 - p). On the CPU torch multiplies by a bool mask element by
    element, 2x slower than float by float, so a full-size mask is cast first; CUDA's kernels cast
    as they go, and a broadcast mask is smaller than x."""
    if x.device.type == "cpu" and keep.shape == x.shape:
        return keep.to(x.dtype).mul_(x).div_(1.0 - p)
    return (x * keep).div_(1.0 - p)


def dropout(
    x: torch.Tensor,
    p: float,
    rng: torch.Generator,
    *,
    training: bool = True,
    broadcast_dims: tuple[int, ...] = (),
) -> torch.Tensor:
    """Inverted dropout with the mask drawn by rng on x's device, applied in x's dtype."""
    p = check_rate(p)
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"dropout needs a floating-point torch.Tensor, got {type(x).__name__}")
    shape = mask_shape(tuple(x.shape), broadcast_dims)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        # Zeros with a zero gradient even where x is inf or nan (x * 0 would give nan).
        return torch.where(torch.zeros((), dtype=torch.bool, device=x.device), x, 0.0)
    return apply_keep(x, keep_mask(rng, shape, p, x.device), p)


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
    reproducible from rng, it runs under ``fork_rng`` seeded from rng.
    """
    p = check_rate(p)
    if broadcast_dims:
        raise ValueError("torch's F.dropout has no broadcast_dims (nn.Dropout1d/2d/3d drop whole channels)")
    seed = int(torch.randint(0, 2**62, (), generator=rng, device=rng.device))
    with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
        torch.manual_seed(seed)
        return F.dropout(x, p, training=training)
