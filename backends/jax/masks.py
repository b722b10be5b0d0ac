"""The JAX port's keep masks and their application: as few random bits as the keep probability
needs, exact to 2^-32.

A mask compares uniform uint32 draws with ``keep_threshold(p)``. Threefry, JAX's default, costs
most per bit on the CPU, where JAX lowers it as a rolled loop over whole arrays; there each element
draws one byte instead, in cache-sized chunks, and only ties with the threshold's top byte (1 in
256) draw the remaining 24 bits, as the NumPy and CPU torch ports do. A tie's bits come from a
small buffer, handed out in order of position; in the rare chunk whose ties overflow it, every
tie draws from a full array instead. Which source a tie reads depends only on where the ties
fall, never on the bits themselves, so every tie keeps with the same exact probability.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp

from dropout_ports.common.masks import keep_threshold

CHUNK = 2**18  # elements drawn per step: their words stay in cache, unlike one pass over all
ROW = 32  # elements whose ties one uint32 bitmap records
ROW_TIES = 6  # buffered ties per row; more than this (p < 1e-10 a row) overflows the buffer
BYTE_DRAWS = "threefry2x32"  # the one implementation whose keys draw bytes on the CPU; rbg keys draw words


def tie_slots(size: int) -> int:
    """Buffer words for a chunk's ties: their mean, size / 256, plus 8 standard deviations."""
    mean = size / 256
    return int(mean + 8 * math.sqrt(mean) + 32)


def keep_mask(key: jax.Array, shape: tuple[int, ...], p: float) -> jax.Array:
    """A bool mask, True with probability 1 - p to within 2^-32; the same key gives the same mask."""
    threshold = keep_threshold(p)
    words = partial(_keep_words, shape=shape, threshold=threshold)
    if str(jax.random.key_impl(key)) != BYTE_DRAWS:
        return words(key)
    return jax.lax.platform_dependent(
        key, cpu=partial(_keep_bytes, shape=shape, threshold=threshold), default=words
    )


def _keep_words(key: jax.Array, shape: tuple[int, ...], threshold: int) -> jax.Array:
    """32 random bits per element: on a GPU bits are cheap and one pass beats a tie pass."""
    return jax.random.bits(key, shape, jnp.uint32) < jnp.uint32(threshold)


def _keep_bytes(key: jax.Array, shape: tuple[int, ...], threshold: int) -> jax.Array:
    """One random byte per element, chunk by chunk, a key per chunk."""
    n = math.prod(shape)
    size = min(CHUNK, max(ROW, -(-n // ROW) * ROW))
    keys = jax.random.split(key, -(-n // size))
    keep = jax.lax.map(partial(_chunk_keep, size=size, threshold=threshold), keys)
    return keep.reshape(-1)[:n].reshape(shape)


def _chunk_keep(key: jax.Array, size: int, threshold: int) -> jax.Array:
    top, rest = threshold >> 24, threshold & 0xFFFFFF
    byte_key, tie_key, spill_key = jax.random.split(key, 3)
    words = jax.random.bits(byte_key, (size // 4,), jnp.uint32)
    draws = jax.lax.bitcast_convert_type(words, jnp.uint8).reshape(size // ROW, ROW)
    keep = draws < top
    if rest:  # else the top byte decides alone (p = 0.5, say)
        ties = draws == top
        keep = keep | (ties & _ties_kept(ties, tie_key, spill_key, rest))
    return keep.reshape(-1)


def _ties_kept(ties: jax.Array, tie_key: jax.Array, spill_key: jax.Array, rest: int) -> jax.Array:
    """(rows, ROW) bools: for each tie, whether its 24 further bits fall below ``rest``."""
    lanes = jnp.arange(ROW, dtype=jnp.uint32)
    row_ties = jnp.sum(ties.astype(jnp.uint32) << lanes, axis=1, dtype=jnp.uint32)
    counts = jax.lax.population_count(row_ties).astype(jnp.int32)
    firsts = jnp.cumsum(counts) - counts  # each row's first slot in the buffer
    slots = tie_slots(ties.size)

    def buffered(_: None) -> jax.Array:
        extra = jax.random.bits(tie_key, (slots,), jnp.uint32) >> 8
        kept, left = jnp.zeros_like(row_ties), row_ties
        for t in range(ROW_TIES):  # the row's t-th tie, lowest lane first
            lowest = left & (~left + 1)
            kept = kept | jnp.where(extra[jnp.minimum(firsts + t, slots - 1)] < rest, lowest, 0)
            left = left & (left - 1)
        return ((kept[:, None] >> lanes) & 1).astype(bool)

    def spilled(_: None) -> jax.Array:
        return (jax.random.bits(spill_key, ties.shape, jnp.uint32) >> 8) < rest

    overflow = (firsts[-1] + counts[-1] > slots) | jnp.any(counts > ROW_TIES)
    return jax.lax.cond(overflow, spilled, buffered, None)


def apply_keep(x: jax.Array, keep: jax.Array, p: float) -> jax.Array:
    """The chapter's ``mask * X / (1 - p)`` in x's dtype; jax.grad gives mask / (1 - p)."""
    return x * keep / (1.0 - p)
