"""Work counts for throughput figures, from the config alone so every port is charged the same."""

from __future__ import annotations

from dropout_ports.common.config import Config


def gemm_shapes(cfg: Config) -> list[tuple[int, int, int]]:
    """(m, k, n) of every matmul in one training step of a full batch: each layer's forward and
    weight gradient, and the input gradient of every layer but the first (nobody needs d loss /
    d pixels). For the chapter's net, per example: 268,800 + 268,800 + 68,096 multiply-adds."""
    batch = cfg.batch_size
    shapes = []
    for i, (fan_in, fan_out) in enumerate(cfg.layer_shapes):
        shapes += [(batch, fan_in, fan_out), (fan_in, batch, fan_out)]
        if i:
            shapes.append((batch, fan_out, fan_in))
    return shapes


def gemm_flops(shapes: list[tuple[int, int, int]]) -> int:
    return sum(2 * m * k * n for m, k, n in shapes)


def flops_per_example(cfg: Config) -> int:
    """FLOPs of one training example's matmuls, 2 FLOPs a multiply-add."""
    return gemm_flops(gemm_shapes(cfg)) // cfg.batch_size


def epoch_flops(cfg: Config, num_examples: int) -> int:
    return flops_per_example(cfg) * num_examples
