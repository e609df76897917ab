"""Integraal: the money and data side of integrated birth care (integrale geboortezorg).

The package is layered: ``domain`` and ``rules`` are pure (no I/O); ``store``, ``importing``, ``cli`` and the
other adapters depend on them, never the other way round.
"""

__version__ = "0.1.0"
