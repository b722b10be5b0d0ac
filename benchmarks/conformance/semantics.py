"""Each dropout's arguments and semantics: the bad-input contract of x, p, training and
broadcast_dims; x itself at p = 0 and in evaluation, zeros at p = 1, x / (1 - p) where kept, the
input's dtype, shape and device, broadcast dims, and the gradient where the framework has one."""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np

from dropout_ports.benchmarks.conformance.contract import fail_on, foreign, refused
from dropout_ports.benchmarks.conformance.draws import N, call, draw, keep_bound, positive
from dropout_ports.benchmarks.conformance.kit import Failed, Skipped, Target, check

ONE_ROUNDING = 2**-23  # float32's relative rounding: x / (1 - p) and x * (1 / (1 - p)) may differ by it
SCALED_RATES = (0.2, 0.8)  # not 0.5, where 1 / p and 1 / (1 - p) agree


@check(
    "inputs.rate",
    "dropout",
    what="a rate that is not a real number in [0, 1] is refused: a TypeError for the wrong kind, a "
    "ValueError out of range",
    bound="ValueError for -0.1, 1.5, nan, inf, -inf; TypeError for '0.5', None, [0.5], True; both "
    "matching 'dropout rate'",
    why="the same call fails the same way in every port, never an assert or a NaN",
    where="check_rate in common/checks.py, called first",
)
def bad_rates(target: Target) -> str:
    x = positive(10)
    problems = [
        refused(ValueError, "dropout rate", lambda p=p: call(target, x, p), f"p={p!r}")
        for p in (-0.1, 1.5, math.nan, math.inf, -math.inf)
    ]
    problems += [
        refused(TypeError, "dropout rate", lambda p=p: call(target, x, p), f"p={p!r}")
        for p in ("0.5", None, [0.5], True)
    ]
    return fail_on(problems, "9 bad rates refused")


def arrays(port: ModuleType) -> object:
    return port.asarray(np.ones(3, np.float32))


@check(
    "inputs.array",
    "dropout",
    what="x is the port's own floating-point array: integers, lists and other frameworks' arrays "
    "are a TypeError, never converted behind the caller's back",
    bound="a TypeError for each; for integers one that says 'floating'",
    why="one rule for every port: a silent conversion hides a copy and a device transfer",
    where="check_input in common/checks.py, called first in every dropout",
)
def bad_arrays(target: Target) -> str:
    port, rng = target.port, target.port.make_rng(0, target.device)
    integers = port.asarray(np.arange(4), device=target.device)
    problems = [refused(TypeError, "floating", lambda: target.op(integers, 0.5, rng), "integer x")]
    problems += [
        refused(TypeError, "", lambda x=x: target.op(x, 0.5, rng), label)
        for label, x in {"a list": [1.0, 2.0], **foreign(target.port, arrays)}.items()
    ]
    return fail_on(problems, f"{len(problems)} bad inputs refused")


@check(
    "inputs.training",
    "dropout",
    what="training is a bool",
    bound="a TypeError matching 'training' for 'no', 1 and None",
    why='"no" is true in Python: taken as a flag it would switch dropout on',
    where="check_training in common/checks.py",
)
def bad_training(target: Target) -> str:
    x = positive(10)
    problems = [
        refused(TypeError, "training", lambda t=t: call(target, x, 0.5, training=t), f"training={t!r}")
        for t in ("no", 1, None)
    ]
    return fail_on(problems, "3 bad flags refused")


def broadcasts(target: Target) -> bool:
    """Whether the dropout takes broadcast_dims; one without refuses them, naming them."""
    try:
        call(target, positive((8, 8)), 0.5, broadcast_dims=(0,))
    except ValueError as err:
        if "broadcast_dims" not in str(err):
            raise
        return False
    return True


@check(
    "inputs.broadcast_dims",
    "dropout",
    what="broadcast dims are distinct axes of x",
    bound="ValueError 'twice' for (0, 0) and (1, -1), 'out of range' for (2,) on a 2-d x",
    why="a repeated axis would silently draw one mask value fewer than asked",
    where="common.masks.mask_shape, which every port's dropout calls",
)
def bad_broadcast_dims(target: Target) -> str:
    if not broadcasts(target):
        return "refuses broadcast_dims, as the contract allows"
    x = positive((2, 3))
    problems = [
        refused(ValueError, "twice", lambda d=d: call(target, x, 0.5, broadcast_dims=d), f"dims {d}")
        for d in ((0, 0), (1, -1))
    ]
    problems.append(
        refused(ValueError, "out of range", lambda: call(target, x, 0.5, broadcast_dims=(2,)), "(2,)")
    )
    return fail_on(problems, "3 bad dims refused")


@check(
    "semantics.identity",
    "dropout",
    what="at p = 0, and in evaluation at any rate, dropout returns x itself",
    bound="the very object passed in (`out is x`) at p = 0 and with training=False at p = 0, 0.5, 1",
    why="one rule for every port: no hidden copy, and evaluation never touches the data",
    where="the early return `if not training or p == 0: return x`",
)
def identity(target: Target) -> str:
    port, rng = target.port, target.port.make_rng(0, target.device)
    x = port.asarray(positive(1000), device=target.device)
    cases = {"p=0": target.op(x, 0.0, rng)}
    cases.update({f"p={p}, training=False": target.op(x, p, rng, training=False) for p in (0.0, 0.5, 1.0)})
    problems = []
    for label, out in cases.items():
        if out is not x:
            same = np.array_equal(port.to_numpy(out), port.to_numpy(x))
            problems.append(f"{label}: {'a copy of x' if same else 'values changed'}, not x itself")
    return fail_on(problems, "x itself in 4 cases")


@check(
    "semantics.zeros",
    "dropout",
    what="at p = 1 dropout gives zeros of x's shape, even where x is inf or nan",
    bound="every element exactly 0",
    why="the chapter's special case: x * 0 would be NaN for inf, and x / (1 - p) divides by zero",
    where="the p == 1 branch, which must not compute x * mask / (1 - p)",
)
def zeros(target: Target) -> str:
    x = np.array([np.inf, -np.inf, np.nan, 1.0, 2.0], np.float32)
    out = target.port.to_numpy(call(target, x, 1.0))
    if out.shape != x.shape or np.any(out != 0) or np.isnan(out).any():
        raise Failed(f"dropout([inf, -inf, nan, 1, 2], p=1) gave {out.tolist()}")
    return "zeros, inf and nan included"


@check(
    "semantics.scale",
    "dropout",
    what="the kept elements are x / (1 - p)",
    bound=f"within one float32 rounding (relative {ONE_ROUNDING:.1e}) at p = 0.2 and 0.8, over 2^20 values",
    why="x * (1 / (1 - p)), as frameworks and XLA compute it, may round once apart; scaling by 1 / p "
    "or not at all is off by 25% or more",
    where="the scale of the kept values: divide by the keep probability 1 - p, not by p",
)
def scale(target: Target) -> str:
    worst = 0.0
    for p in SCALED_RATES:
        drawn = draw(target, N, p)
        worst = max(worst, drawn.scale_error)
        if drawn.scale_error > ONE_ROUNDING:
            seen = f"at p={p} kept values are {drawn.ratio:.4g} x, not x / (1 - p) = {1 / (1 - p):.4g} x"
            raise Failed(seen, f"largest relative error {drawn.scale_error:.2e}")
    return f"largest relative error {worst:.1e}"


@check(
    "semantics.dtypes",
    "dropout",
    what="the output keeps x's array type, dtype, shape and device, for every dtype in DTYPES and for "
    "0-d and empty x",
    bound="each the same; about half kept at p = 0.5 (within 5 sigma of 4096 draws)",
    why="a silent upcast doubles the memory traffic, and a device change a transfer",
    where="the mask's dtype and device, and the multiply: compute in x's dtype on x's device",
)
def dtypes(target: Target) -> str:
    port, problems = target.port, []
    for dtype in port.DTYPES:
        x = port.asarray(positive(4096), dtype=dtype, device=target.device)
        out = target.op(x, 0.5, port.make_rng(0, target.device))
        seen = {
            name: (getattr(out, name, None), getattr(x, name, None)) for name in ("dtype", "shape", "device")
        }
        seen["type"] = (type(out), type(x))
        problems += [f"{dtype}: {name} {a} where x has {b}" for name, (a, b) in seen.items() if a != b]
        share = float(np.mean(port.to_numpy(out) != 0))
        if abs(share - 0.5) > keep_bound(0.5, 4096):
            problems.append(f"{dtype}: kept {share:.3f} at p = 0.5")
    for shape in ((), (0,), (3, 0, 2)):
        out = port.to_numpy(call(target, np.full(shape, 1.5, np.float32), 0.5))
        if out.shape != shape or not np.all((out == 0) | (out == 3.0)):
            problems.append(f"shape {shape}: gave shape {out.shape}")
    return fail_on(problems, f"{len(port.DTYPES)} dtypes and 3 shapes kept")


@check(
    "semantics.broadcast",
    "dropout",
    what="with broadcast_dims, one mask value is shared along those axes",
    bound="the mask constant along dims 0 and 2 of a (64, 512, 4) x; its 512 values kept at 1 - p "
    "within 5 sigma",
    why="broadcast dims drop whole rows or channels (Flax's broadcast_dims)",
    where="the mask's shape: common.masks.mask_shape puts a 1 in each broadcast axis",
)
def broadcast(target: Target) -> str:
    if not broadcasts(target):
        raise Skipped("this dropout has no broadcast_dims (it refuses them, as the contract allows)")
    kept = (
        target.port.to_numpy(call(target, np.ones((64, 512, 4), np.float32), 0.5, broadcast_dims=(0, -1)))
        != 0
    )
    if not (kept == kept[:1, :, :1]).all():
        raise Failed("the mask varies along a broadcast axis")
    share = float(kept[0, :, 0].mean())
    if abs(share - 0.5) > keep_bound(0.5, 512):
        raise Failed(f"kept {share:.3f} of 512 shared mask values at p = 0.5")
    return f"shared along dims 0 and 2; kept {share:.3f}"


@check(
    "semantics.gradient",
    "dropout",
    what="the gradient of sum(dropout(x)) is the mask / (1 - p), and 0 at p = 1 even where x is inf",
    bound=f"within one float32 rounding ({ONE_ROUNDING:.1e}) at p = 0.2 and 0.5; exactly 0 at p = 1",
    why="backpropagation must scale as the forward pass does, and never give NaN from a dropped inf",
    where="the port's output_and_gradient, and what its autodiff sees of the mask",
)
def gradient(target: Target) -> str:
    port = target.port
    if not callable(getattr(port, "output_and_gradient", None)):
        raise Skipped("the port defines no output_and_gradient (its framework does not differentiate)")
    x = port.asarray(positive(4096), device=target.device)
    worst = 0.0
    for p in (0.2, 0.5):
        rng = port.make_rng(3, target.device)
        out, grad = port.output_and_gradient(lambda x, p=p, rng=rng: target.op(x, p, rng), x)
        expected = (port.to_numpy(out) != 0) / np.float32(1 - p)
        worst = max(worst, float(np.max(np.abs(port.to_numpy(grad) - expected) / np.float32(1 / (1 - p)))))
    inf = port.asarray(np.array([np.inf, 1.0], np.float32), device=target.device)
    rng = port.make_rng(0, target.device)
    _, grad = port.output_and_gradient(lambda x: target.op(x, 1.0, rng), inf)
    if worst > ONE_ROUNDING or np.any(port.to_numpy(grad) != 0):
        raise Failed(
            f"gradient off the mask / (1 - p) by {worst:.2e}; at p = 1: {port.to_numpy(grad).tolist()}"
        )
    return f"largest relative error {worst:.1e}"
