"""docs/differences.md's claims about PyTorch, each shown on the installed torch (2.13.0+cpu when
written); the guide names each test beside its sentence. GPU claims are gpu-marked."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_info

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from conftest import gpu_device  # noqa: E402
from torch import nn  # noqa: E402

from dropout_ports.backends import torch as tb  # noqa: E402
from dropout_ports.benchmarks.runs.machine import describe_threads, environment  # noqa: E402

# §1: generators


def test_torchs_cpu_generator_is_mersenne_twister():
    """The same stream as MT19937 seeded by the reference init_genrand (NumPy's legacy RandomState)."""
    draws = torch.empty(8, dtype=torch.int64).random_(0, 2**16, generator=torch.Generator().manual_seed(5))
    np.testing.assert_array_equal(draws.numpy(), np.random.RandomState(5).randint(0, 2**16, size=8))


def test_nn_dropout_has_no_generator_argument_and_draws_from_the_global_one():
    assert "generator" not in inspect.signature(nn.Dropout).parameters
    assert "generator" not in inspect.signature(F.dropout).parameters
    layer, x = nn.Dropout(0.3), torch.ones(4096)
    torch.manual_seed(7)
    first = layer(x)
    torch.manual_seed(7)
    assert torch.equal(layer(x), first)
    # On the CPU its mask is bernoulli_(1 - p), which honours an explicit generator just as well.
    own = torch.empty(4096).bernoulli_(0.7, generator=torch.Generator().manual_seed(7))
    assert torch.equal(first != 0, own != 0)


def test_builtin_dropout_reseeds_every_gpu_and_restores_only_the_cpu_generator(monkeypatch):
    """torch.manual_seed seeds every CUDA device (manual_seed_all); fork_rng restores the CPU's
    generator and the devices it is given, here none."""
    seeded = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", seeded.append)
    state = torch.random.get_rng_state()
    tb.builtin_dropout(torch.ones(64), 0.5, tb.make_rng(0))
    assert len(seeded) == 1 and torch.equal(torch.random.get_rng_state(), state)


@pytest.mark.gpu
def test_fork_rng_leaves_the_gpus_it_was_not_given_reseeded():
    gpu_device(tb)
    if torch.cuda.device_count() < 2:
        pytest.skip("needs two GPUs")
    before = torch.cuda.get_rng_state(1)
    tb.builtin_dropout(torch.ones(64, device="cuda:0"), 0.5, tb.make_rng(0, "cuda:0"))
    assert not torch.equal(torch.cuda.get_rng_state(1), before)


@pytest.mark.gpu
def test_cpu_and_cuda_generators_draw_other_bits_from_one_seed():
    gpu_device(tb)
    cpu = torch.empty(64, dtype=torch.int64).random_(generator=torch.Generator().manual_seed(0))
    cuda = torch.empty(64, dtype=torch.int64, device="cuda")
    cuda.random_(generator=torch.Generator("cuda").manual_seed(0))
    assert not torch.equal(cpu, cuda.cpu())


# §2: masks


def test_random_fills_int64_over_its_full_range():
    words = torch.empty(4096, dtype=torch.int64).random_(-(2**63), None, generator=tb.make_rng(0))
    assert words.min() < -(2**62) and words.max() > 2**62


def test_torch_rand_resolves_only_2_to_the_minus_24():
    u = torch.rand(2**16, generator=tb.make_rng(0))
    assert u.dtype == torch.float32 and torch.equal(u * 2**24, (u * 2**24).floor())


@pytest.mark.gpu
def test_the_chapters_cpu_draw_fails_for_a_cuda_tensor():
    gpu_device(tb)
    x = torch.ones(8, device="cuda")
    with pytest.raises(RuntimeError, match="same device"):
        (torch.rand(x.shape) > 0.5).float() * x / 0.5


def anon_huge_pages_kb() -> int:
    with open("/proc/self/smaps_rollup") as rollup:
        return next(int(line.split()[1]) for line in rollup if line.startswith("AnonHugePages"))


def test_torch_asks_for_huge_pages_only_when_told():
    """With THP_MEM_ALLOC_ENABLE=1 set before its first allocation (a fresh process here), a large
    tensor is backed by huge pages; without it, none, where NumPy's arrays are."""
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if not thp.is_file() or "[never]" in thp.read_text() or "THP_MEM_ALLOC_ENABLE" in os.environ:
        pytest.skip("no transparent huge pages here, or the variable is already set")
    before = anon_huge_pages_kb()
    untold = torch.ones(2**24)
    assert anon_huge_pages_kb() == before and untold.sum() > 0
    script = inspect.getsource(anon_huge_pages_kb) + (
        "import torch\nb = anon_huge_pages_kb()\nx = torch.ones(2**24)\nprint(anon_huge_pages_kb() - b)"
    )
    env = {**os.environ, "THP_MEM_ALLOC_ENABLE": "1"}
    told = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert int(told.stdout.split()[-1]) > 0


# §3-§6, §11: evaluation, layouts, division, edge cases, replicas


def test_nn_dropout_stays_on_until_eval():
    layer, x = nn.Dropout(0.5), torch.ones(4096)
    assert layer.training and (layer(x) == 0).any()
    assert layer.eval()(x) is x


def test_nn_linear_is_out_by_in_and_uniform_within_one_over_root_fan_in():
    layer, x = nn.Linear(784, 256), torch.rand(3, 784)
    assert layer.weight.shape == (256, 784)
    torch.testing.assert_close(layer(x), x @ layer.weight.T + layer.bias)
    bound = 784**-0.5
    assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound and layer.bias.any()
    assert abs(layer.weight.std().item() - 0.0206) < 2e-4  # U(-b, b) has std b / sqrt(3)


def test_f_dropout_multiplies_by_the_reciprocal_on_the_cpu():
    x = 1 + torch.rand(2**16, generator=tb.make_rng(0))
    out = F.dropout(x, 0.1)
    kept = out != 0
    assert torch.equal(out[kept], x[kept] * (1 / torch.tensor(0.9)))
    assert not torch.equal(out[kept], x[kept] / 0.9)


@pytest.mark.gpu
def test_cuda_divides_by_a_python_number_as_a_reciprocal_multiply():
    gpu_device(tb)
    x = 1 + torch.rand(2**16, generator=tb.make_rng(0))
    quotient = (x.cuda() / 0.9).cpu()
    assert torch.equal(quotient, x * (1 / torch.tensor(0.9))) and not torch.equal(quotient, x / 0.9)


def test_f_dropout_refuses_bad_rates_with_two_exception_types():
    with pytest.raises(ValueError):
        F.dropout(torch.ones(4), 1.5)
    with pytest.raises(RuntimeError):
        F.dropout(torch.ones(4), float("nan"))


def test_f_dropout_shares_no_mask_and_dropout2d_drops_whole_channels():
    assert not {"broadcast_dims", "noise_shape"} & set(inspect.signature(F.dropout).parameters)
    out = nn.Dropout2d(0.5)(torch.ones(4, 16, 8, 8)).flatten(2)
    assert ((out == 0).all(2) | (out != 0).all(2)).all() and (out == 0).any()


def test_distributed_sampler_pads_by_repeating_indices():
    from torch.utils.data import DistributedSampler

    shards = [DistributedSampler(range(10), num_replicas=4, rank=r, shuffle=False) for r in range(4)]
    assert sorted(i for shard in shards for i in shard) == sorted([*range(10), 0, 1])  # 0 and 1 twice


# §10: precision


def test_torch_matmuls_are_float32_by_default_and_high_also_sets_onednn_to_tf32():
    assert torch.get_float32_matmul_precision() == "highest"
    assert not torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32  # cuDNN: TF32
    try:
        torch.set_float32_matmul_precision("high")
        assert torch.backends.mkldnn.matmul.fp32_precision == "tf32"
        assert torch.backends.cuda.matmul.fp32_precision == "tf32"
    finally:
        torch.set_float32_matmul_precision("highest")


# The sections on what the chapter leaves out


def test_a_dataloader_draws_from_torchs_global_generator():
    from torch.utils.data import DataLoader, RandomSampler

    for use in (lambda: iter(DataLoader(range(10))), lambda: list(RandomSampler(range(10)))):
        torch.manual_seed(0)
        state = torch.random.get_rng_state()
        use()
        assert not torch.equal(torch.random.get_rng_state(), state)


def test_bfloat16_f_dropout_scales_by_a_rounded_reciprocal():
    scaled = F.dropout(torch.ones(4096, dtype=torch.bfloat16), 0.1)
    assert scaled[scaled != 0].unique().tolist() == [1.109375]  # 1 / 0.9 = 1.1111 in bfloat16
    assert F.dropout(torch.ones(4096, dtype=torch.bfloat16), 0.2).max().item() == 1.25  # exact


def test_deterministic_algorithms_change_no_mask_and_refuse_nondeterministic_ops():
    x = torch.ones(4096)
    plain = tb.dropout(x, 0.3, tb.make_rng(0))
    torch.use_deterministic_algorithms(True)
    try:
        assert torch.equal(tb.dropout(x, 0.3, tb.make_rng(0)), plain)
        assert torch.isnan(torch.empty(8)).all()  # uninitialised memory is filled
        with pytest.raises(RuntimeError, match="deterministic"):
            torch.zeros(4).put_(torch.tensor([0, 0]), torch.ones(2))
    finally:
        torch.use_deterministic_algorithms(False)


@pytest.mark.gpu
def test_deterministic_cublas_needs_a_workspace_setting():
    gpu_device(tb)
    if "CUBLAS_WORKSPACE_CONFIG" in os.environ:
        pytest.skip("CUBLAS_WORKSPACE_CONFIG is set")
    a = torch.ones(8, 8, device="cuda")
    torch.use_deterministic_algorithms(True)
    try:
        with pytest.raises(RuntimeError, match="CUBLAS_WORKSPACE_CONFIG"):
            a @ a
    finally:
        torch.use_deterministic_algorithms(False)


def test_a_dropped_inf_is_nan_in_torch():
    """The torch port and F.dropout multiply by the mask: a dropped inf is 0 * inf = nan."""
    for dropout in (tb.dropout, tb.builtin_dropout):
        out = dropout(torch.full((1024,), float("inf")), 0.5, tb.make_rng(0))
        assert torch.isnan(out).any() and not (out == 0).any()


def test_torch_dropout_returns_the_input_itself_at_rate_zero_and_in_evaluation():
    x = torch.ones(8)
    assert F.dropout(x, 0.0) is x and F.dropout(x, 0.5, training=False) is x
    assert tb.dropout(x, 0.0, tb.make_rng(0)) is x and tb.dropout(x, 0.5, tb.make_rng(0), training=False) is x


def test_the_machine_record_names_torchs_own_blas():
    """threadpoolctl cannot see the MKL linked into torch; the record asks torch's build."""
    if "BLAS_INFO=mkl" not in torch.__config__.show():
        pytest.skip("this torch build has no MKL")
    assert not any(pool["internal_api"] == "mkl" for pool in threadpool_info())
    line = describe_threads(environment(["torch"]))
    assert re.search(r"mkl 20\d\d\.\d+ \(in torch, \d+ threads\)", line), line
