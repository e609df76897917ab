"""The append-only audit log: every money-changing or data-changing action, who and when."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert

from integraal.store.tables import audit_log


def record(connection: Connection, actor: str, action: str, entity: str, entity_id: str, **detail: Any) -> None:
    connection.execute(
        insert(audit_log).values(
            at=datetime.now(UTC),
            actor=actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            detail=json.dumps(detail, default=str, sort_keys=True),
        )
    )
