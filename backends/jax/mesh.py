"""The JAX port's devices for data parallelism: a mesh of one axis, "batch", and global arrays on it.

On the CPU the devices are the host's: N of them when XLA_FLAGS holds
--xla_force_host_platform_device_count=N before JAX starts (the run engine sets it for a run's
fresh process: dropout_ports.backends.prepare_host_devices), or when jax_num_cpu_devices can still
be set (before JAX's first operation). Several processes, one device each, join through
jax.distributed.initialize when a launcher describes them in the environment (RANK, WORLD_SIZE,
MASTER_ADDR, MASTER_PORT); the CPU's collectives then go over gloo.
"""

from __future__ import annotations

import os
from functools import partial

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from dropout_ports.backends import host_device_count
from dropout_ports.common.config import Config
from dropout_ports.common.params import param_shapes
from dropout_ports.common.timing import median_seconds

AXIS = "batch"
REPLICATED, SHARDED, STEP_SHARDED = P(), P(AXIS), P(None, AXIS)
JOIN_TIMEOUT_S = 300


def mesh_for(replicas: int, device: str) -> Mesh:
    """A mesh over `replicas` devices of the device's platform, joining processes first if a
    launcher started several; a ValueError saying how to get the devices if there are too few."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not jax.distributed.is_initialized():
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(
            f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}",
            num_processes=world,
            process_id=int(os.environ["RANK"]),
            initialization_timeout=JOIN_TIMEOUT_S,
        )
    platform = "cpu" if device == "cpu" else "gpu"
    known = max(host_device_count(), jax.config.jax_num_cpu_devices)
    if platform == "cpu" and world == 1 and known < replicas:
        try:  # possible only before JAX's first operation in this process
            jax.config.update("jax_num_cpu_devices", replicas)
        except RuntimeError:
            pass
    devices = jax.devices(platform)
    if world > 1:  # a replica per process, on its first device
        devices = [next(d for d in devices if d.process_index == rank) for rank in range(world)]
    if len(devices) < replicas:
        hint = (
            f"; JAX started in this process with {len(devices)}: run it in a fresh process (the "
            f"default executor does), or set XLA_FLAGS=--xla_force_host_platform_device_count={replicas} "
            "before JAX starts"
            if platform == "cpu"
            else ""
        )
        raise ValueError(f"{replicas} replicas need {replicas} {platform} devices{hint}")
    return Mesh(np.array(devices[:replicas]), (AXIS,))


def on_mesh(mesh: Mesh, spec: P, host: np.ndarray) -> jax.Array:
    """A host array as a global array on the mesh (each process supplies the shards it holds)."""
    return jax.make_array_from_callback(host.shape, NamedSharding(mesh, spec), lambda index: host[index])


def gathered(array: jax.Array) -> np.ndarray:
    """A global array on the host, from every process."""
    if array.is_fully_addressable:
        return np.asarray(array)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(array, tiled=True))


def allreduce_seconds(cfg: Config, device: str = "cpu") -> float:
    """Median seconds of one psum of the gradients' size over the mesh."""
    mesh = mesh_for(cfg.replicas, device)
    size = sum(int(np.prod(shape)) for shape in param_shapes(cfg).values())
    host = np.zeros((cfg.replicas, size), np.dtype(cfg.dtype) if cfg.dtype != "bfloat16" else np.float32)
    buffer = on_mesh(mesh, SHARDED, host)
    reduce = jax.jit(jax.shard_map(partial(jax.lax.psum, axis_name=AXIS), mesh=mesh, in_specs=SHARDED,
                                   out_specs=SHARDED))  # fmt: skip
    return median_seconds(lambda: reduce(buffer).block_until_ready(), min_repeats=50, min_total=0.0)
