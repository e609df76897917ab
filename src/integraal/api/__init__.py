"""The REST API (FastAPI): one router per feature under ``/api``, OpenAPI at ``/openapi.json``.

An adapter only: it authenticates the caller, maps HTTP to the use cases of ``integraal.services`` (which check
permissions and filter rows by tenant) and maps their results and errors back (RFC 9457 problem+json).
"""

from integraal.api.app import create_app

__all__ = ["create_app"]
