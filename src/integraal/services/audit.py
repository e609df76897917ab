"""The append-only audit log: every money-changing or data-changing action, who and when.

Entries are only ever inserted. An entry may name the IGOs it concerns (``igo_ids``, stored in
``audit_scopes``) so that an IGO's back office can read its own entries and no other IGO's; entries without a
scope (e.g. a national import from the command line) are visible to superusers only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert

from integraal.store.tables import audit_log, audit_scopes


def record(
    connection: Connection,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    *,
    igo_ids: Iterable[str] = (),
    **detail: Any,
) -> int:
    """Append one entry (inside the caller's transaction) and return its id."""
    result = connection.execute(
        insert(audit_log).values(
            at=datetime.now(UTC),
            actor=actor,
            action=action,
            entity=entity,
            entity_id=entity_id[:100],
            detail=json.dumps(detail, default=str, sort_keys=True),
        )
    )
    entry_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    scopes = sorted(set(igo_ids))
    if scopes:
        connection.execute(insert(audit_scopes), [{"audit_id": entry_id, "igo_id": igo} for igo in scopes])
    return entry_id
