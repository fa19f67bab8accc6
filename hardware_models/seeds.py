"""Seeds of random streams: one rule, :func:`derive_seed`, for every stream of the package.

A run has one seed. Each random stream in it (a programming draw, an attack's random start, the
read noise of an evaluation draw, a corruption) takes ``derive_seed(seed, stream_name)``: a
64-bit-safe integer that depends on the seed and on the stream's *name*, never on the order in
which streams are created. Inserting an attack in a suite therefore leaves every other attack's
numbers unchanged.

    derive_seed(0, "attack/pgd_linf/0.1")  ->  an int in [0, 2**63)

Implementation: numpy's ``SeedSequence`` with entropy ``(seed, blake2b_64(name))`` (the
SeedSequence hash mixes the two; names are UTF-8 encoded). Stable across machines, numpy versions
that keep SeedSequence, and Python hash randomisation.
"""

from __future__ import annotations

import hashlib
import numbers
from typing import Any

import numpy as np

from .params import ParameterError

__all__ = ["derive_seed", "derive_rng"]

_MASK63 = (1 << 63) - 1


def derive_seed(seed: Any, stream: str) -> int:
    """The seed of stream ``stream`` in a run seeded with ``seed`` (an int >= 0): in [0, 2**63)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise ParameterError(None, "seed", f"must be an integer >= 0, got {seed!r}")
    if not isinstance(stream, str) or not stream:
        raise ParameterError(None, "stream", f"must be a non-empty string naming the random stream, got {stream!r}")
    name = int.from_bytes(hashlib.blake2b(stream.encode("utf-8"), digest_size=8).digest(), "little")
    words = np.random.SeedSequence([int(seed), name]).generate_state(2, dtype=np.uint32)
    return (int(words[0]) | (int(words[1]) << 32)) & _MASK63


def derive_rng(seed: Any, stream: str) -> np.random.Generator:
    """``numpy.random.default_rng(derive_seed(seed, stream))``."""
    return np.random.default_rng(derive_seed(seed, stream))
