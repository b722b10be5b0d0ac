"""Work counts for throughput figures, from the config alone so every port is charged the same."""

from __future__ import annotations

from common.config import Config


def flops_per_example(cfg: Config) -> int:
    """FLOPs of one training example's matmuls: forward, weight gradients, and the input
    gradients of every layer but the first (nobody needs d loss / d pixels); 2 FLOPs a multiply-add.
    For the chapter's net: 268,800 + 268,800 + 68,096 multiply-adds."""
    macs = [fan_in * fan_out for fan_in, fan_out in cfg.layer_shapes]
    return 2 * (2 * sum(macs) + sum(macs[1:]))


def epoch_flops(cfg: Config, num_examples: int) -> int:
    return flops_per_example(cfg) * num_examples
