"""Random streams derived from a run's seed, so that no seed's streams overlap another seed's.

A generator seeded with ``seed + offset`` would make seed 0's second stream seed ``offset``'s first;
a seed sequence hashes (seed, stream) instead, as NumPy's ``default_rng([seed, stream])`` does.
JAX derives its streams with ``fold_in`` on the run's key, which hashes the same way.
"""

from __future__ import annotations

import numpy as np

EVAL_STREAM = 1  # evaluation's noise (MC dropout): apart from the training masks


def stream_seed(seed: int, stream: int) -> int:
    """A 63-bit integer seed for stream of seed, for generators seeded by an integer (torch's)."""
    words = np.random.SeedSequence([seed, stream]).generate_state(2, np.uint32)
    return (int(words[0]) << 31) ^ int(words[1])
