"""Where the compiled variant's forward and backward spend a step, kernel by kernel:
``python -m dropout_ports.backends.torch.kernel_profile`` runs the chapter's net at its batch under
``compiled_forward``, with the masks the trainer draws and at rates 0, under torch's profiler with
Inductor's own kernels named (``cpp.enable_kernel_profile``), and prints their time a call.
docs/differences.md section 12 reads it.
"""

from __future__ import annotations

import argparse

import torch
import torch._inductor.config as inductor_config
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from dropout_ports.backends.torch.models import compiled_forward
from dropout_ports.backends.torch.trainer import Trainer
from dropout_ports.common.config import Config
from dropout_ports.common.params import init_params

KERNEL = "cpp_fused"  # the prefix Inductor's generated CPU kernels are named by


def kernel_times(cfg: Config, steps: int) -> dict[str, float]:
    """Each Inductor kernel's mean µs a call over steps of forward and backward, after a warm-up."""
    model = Trainer(cfg, init_params(cfg), variant="compiled").model.train()
    x = torch.rand(cfg.batch_size, cfg.num_inputs)
    y = torch.randint(0, cfg.num_outputs, (cfg.batch_size,))
    masks = model.draw_masks(cfg.batch_size, x.device, x.dtype)

    def run(times: int) -> None:
        for _ in range(times):
            F.cross_entropy(compiled_forward(model, x, masks), y).backward()

    run(3)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run(steps)
    return {e.key: e.self_cpu_time_total / e.count for e in prof.key_averages() if KERNEL in e.key}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args(argv)
    cfg = Config()
    print(f"torch {torch.__version__}; Inductor kernels, µs a call over {args.steps} steps\n")
    print("| rates | kernel | µs a call |\n|---|---|---|")
    with inductor_config.patch({"cpp.enable_kernel_profile": True}):
        for rates in (cfg.dropouts, (0.0,) * len(cfg.dropouts)):
            for name, micros in kernel_times(cfg.replace(dropouts=rates), args.steps).items():
                print(f"| {', '.join(map(str, rates))} | {name} | {micros:,.0f} |")


if __name__ == "__main__":
    main()
