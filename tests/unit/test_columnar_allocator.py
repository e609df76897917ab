"""The columnar engine's allocator settings (``integraal.COLUMNAR_ALLOCATOR_SETTINGS``): in force in a process that
imports the package before Polars, unless the environment names its own. Each case runs in a fresh process:
jemalloc reads its settings once, when Polars first allocates."""

from __future__ import annotations

import os
import subprocess
import sys

import integraal

# jemalloc prints its options at exit when asked to; the package's settings are followed by that request.
PROGRAM = """
import os
import integraal
os.environ["_RJEM_MALLOC_CONF"] += ",stats_print:true"
import polars as pl
pl.DataFrame({"a": list(range(1000))}).sum()
"""


def _options(environment: dict[str, str]) -> dict[str, str]:
    done = subprocess.run([sys.executable, "-c", PROGRAM], env=environment, capture_output=True, text=True, check=True)
    said = done.stdout + done.stderr
    options = {}
    for line in said.splitlines():
        name, _, value = line.strip().partition(": ")
        if name in ("opt.oversize_threshold", "opt.dirty_decay_ms", "opt.muzzy_decay_ms"):
            options[name] = value.split(" ")[0]
    return options


def test_the_package_sets_the_allocator_of_polars_before_polars_allocates() -> None:
    environment = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    assert _options(environment) == {
        "opt.oversize_threshold": "0",
        "opt.dirty_decay_ms": "5000",
        "opt.muzzy_decay_ms": "5000",
    }
    assert integraal.COLUMNAR_ALLOCATOR_SETTINGS.startswith("oversize_threshold:0,")


def test_settings_named_by_the_environment_are_kept() -> None:
    environment = dict(os.environ) | {"_RJEM_MALLOC_CONF": "dirty_decay_ms:700"}
    options = _options(environment)
    assert options["opt.dirty_decay_ms"] == "700"
    assert options["opt.oversize_threshold"] != "0"  # Polars' own (8 MiB), not the package's
