"""The fuzz tests (issue 7): every door of Integraal fed bad input for a bounded time.

Two Hypothesis profiles (defined in ``fuzzing.py``, imported here so they exist before any test module), chosen
with ``HYPOTHESIS_PROFILE`` (read by ``fuzzing.py``; Hypothesis itself does not read it):

- ``ci`` (the default, what the README's ``pytest`` runs): a few minutes for the whole folder on two cores.
- ``long``: fifty times the examples, for an on-demand run (docs/operations.md, "Fuzzing").

They are registered as ``integraal-fuzz-ci`` and ``integraal-fuzz-long`` and applied per test with
``fuzzing.fuzz()``, never loaded globally: Hypothesis has a ``ci`` profile of its own that it loads when ``$CI``
is set, and the rest of the suite keeps its own settings. Examples are random (``derandomize=False``); the seed
of the run is printed in the pytest header and a failing run is repeated with ``INTEGRAAL_FUZZ_SEED=<seed>``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parents[1]
for helpers in (_TESTS / "integration", _TESTS / "unit" / "claims", Path(__file__).parent):
    if str(helpers) not in sys.path:
        sys.path.insert(0, str(helpers))  # api_world (the two-IGO world), claim_strategies (sample batches)

import fuzzing  # noqa: E402  (registers the profiles)


def pytest_report_header(config: pytest.Config) -> str:
    return (
        f"fuzz: profile {fuzzing.PROFILE} (HYPOTHESIS_PROFILE), seed {fuzzing.SEED} "
        f"(repeat with INTEGRAAL_FUZZ_SEED={fuzzing.SEED})"
    )
