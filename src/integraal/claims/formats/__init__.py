"""Wire formats for claims and returns, one module per format family, chosen by name from a registry.

Registered here: ``kz301`` (claim file, :class:`~integraal.claims.batch.ClaimBatch`) and ``kz302`` (return
file, :class:`~integraal.claims.batch.ReturnBatch`), both Vektis EI fixed-width (``vektis_ei``).
"""

from __future__ import annotations

from integraal.claims.batch import ClaimBatch, ReturnBatch
from integraal.claims.formats import csv_format, fhir, vektis_ei  # noqa: F401 (importing registers the formats)
from integraal.claims.formats.errors import BatchNotWritableError, FormatError, UnknownFormatError
from integraal.claims.formats.registry import ClaimFormat, Format, formats, get_format, register

KZ301: Format[ClaimBatch] = Format(
    "kz301",
    "Vektis EI claim file, integral birth care (KZ301-style, v3.2)",
    vektis_ei.write_claim,
    vektis_ei.read_claim,
)
KZ302: Format[ReturnBatch] = Format(
    "kz302",
    "Vektis EI return file, integral birth care (KZ302-style, v3.2)",
    vektis_ei.write_return,
    vektis_ei.read_return,
)
register(KZ301)
register(KZ302)

__all__ = [
    "KZ301",
    "KZ302",
    "BatchNotWritableError",
    "ClaimFormat",
    "Format",
    "FormatError",
    "UnknownFormatError",
    "formats",
    "get_format",
    "register",
]
