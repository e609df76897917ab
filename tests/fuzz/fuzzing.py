"""The Hypothesis profiles of the fuzz tests, the one chosen with ``HYPOTHESIS_PROFILE`` and the run's seed.

- ``ci`` (default): 150 examples as the base; each test takes a share of it (a cheap reader more, an operation
  of the API less), so the whole folder runs in about three minutes on two cores.
- ``long``: 50 times as many, for an on-demand run (docs/operations.md, "Fuzzing").

Both: no deadline (a fuzz example may hit a cold path: a first query, a PDF), random examples
(``derandomize=False``) from the seed printed in the pytest header (``INTEGRAAL_FUZZ_SEED`` repeats a run), no
example database (the seed repeats a run; a shrunk failing example is printed with a reproduction blob).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, seed, settings

_COMMON = settings(
    deadline=None,
    derandomize=False,
    database=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),  # module-scoped fixtures, big inputs, nested @given
)
settings.register_profile("integraal-fuzz-ci", _COMMON, max_examples=150)
settings.register_profile("integraal-fuzz-long", _COMMON, max_examples=7_500)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
if PROFILE not in ("ci", "long"):
    raise RuntimeError(f"HYPOTHESIS_PROFILE={PROFILE!r}: the fuzz tests know 'ci' (the default) and 'long'")
BASE = settings.get_profile(f"integraal-fuzz-{PROFILE}")
SEED = int(os.environ.get("INTEGRAAL_FUZZ_SEED") or random.SystemRandom().randrange(2**32))

F = TypeVar("F", bound=Callable[..., Any])


def fuzz(share: float = 1.0) -> Callable[[F], F]:
    """The profile's settings and the run's seed for one test; ``share``: its examples as a share of the
    profile's (at least one)."""

    def apply(test: F) -> F:
        examples = max(1, round(BASE.max_examples * share))
        return seed(SEED)(settings(BASE, max_examples=examples)(test))

    return apply
