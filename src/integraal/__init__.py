"""Integraal: the money and data side of integrated birth care (integrale geboortezorg).

The package is layered: ``domain`` and ``rules`` are pure (no I/O); ``store``, ``importing``, ``cli`` and the
other adapters depend on them, never the other way round.
"""

import os as _os

__version__ = "0.1.0"

COLUMNAR_ALLOCATOR_SETTINGS = "oversize_threshold:0,dirty_decay_ms:5000,muzzy_decay_ms:5000"
"""The settings of the columnar engine's memory allocator (Polars' jemalloc, read from ``_RJEM_MALLOC_CONF`` when
Polars first allocates) in a process that imports this package before Polars, unless the environment names its
own (an empty value: jemalloc's and Polars' defaults).

Polars' defaults hand a freed buffer of more than 8 MiB back to the system at once and other freed memory
after half a second, so the next stage of a batch (a national year's import, decisions, claims, …) asks the
kernel for the same memory again, zeroed page by page. Kept for five seconds instead, a national year's
pipeline takes ≈35 % fewer page faults (decide 540,000 → 340,000) and 0.5–1 s less; its peak memory is the
same (docs/performance.md). A server lets go of the memory seconds after its last big request."""

_os.environ.setdefault("_RJEM_MALLOC_CONF", COLUMNAR_ALLOCATOR_SETTINGS)
