"""Use case: upload a file of care activities on behalf of a principal (API, web UI).

The rows go through exactly the import of the command line (``services.imports.import_files``: the same
validation, quarantine and idempotency). Before that, the file is checked against the principal's *write*
scope, because an activity changes the decision of the trajectory it lands in:

- a member may register only its own activities (``agb`` = its AGB), for pregnancies of IGOs it belongs to;
- an IGO's back office only for pregnancies of its IGO;
- an activity naming no pregnancy must match (by BSN and date, as the decision will) a pregnancy in scope.

A file with any row outside the scope is refused as a whole and nothing is stored (403, every such row
listed). Unknown and other tenants' pregnancies get the same answer, so the check reveals nothing. A superuser
has no tenant: for it only the import's own validation applies, as on the command line.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
from sqlalchemy import ColumnElement, Connection, select

from integraal.data.loader import load_catalogue
from integraal.importing.formats import FORMATS, References
from integraal.importing.validation import FileError, read_csv, validate
from integraal.rules.matching import TrajectoryIndex
from integraal.services import audit
from integraal.services.access import Action, Principal, Role, require, writable_pregnancy_scope
from integraal.services.imports import ImportReport, import_files
from integraal.services.queries import trailing_days
from integraal.store import tables
from integraal.store.database import Database
from integraal.store.repositories import load_pregnancies

CHUNK = 5_000  # ids per IN (…) list: far below SQLite's limit of bound parameters
MAX_LISTED = 200  # refused rows listed in a refusal (the count is always complete)


@dataclass(frozen=True, slots=True)
class ScopeViolation:
    row: int
    field: str
    value: str
    reason: str


class UploadRefusedError(PermissionError):
    """Rows of the file lie outside the principal's scope; nothing was stored."""

    def __init__(self, file: str, violations: list[ScopeViolation], total: int) -> None:
        super().__init__(f"{file}: {total} row(s) outside what you may register; nothing was stored")
        self.file = file
        self.violations = violations
        self.total = total


def safe_file_name(name: str | None) -> str:
    """The uploaded file's own name, reduced to harmless characters (it is shown and stored)."""
    base = Path((name or "").replace("\\", "/")).name
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._")[:100]
    return cleaned or "upload.csv"


def upload_activities(db: Database, principal: Principal, file_name: str | None, data: bytes) -> ImportReport:
    """Import an activities CSV (docs/formats.md) for ``principal``; returns the import report.

    Raises ``FileError`` for an unreadable file and :class:`UploadRefusedError` for rows outside the scope.
    """
    require(principal, Action.UPLOAD_ACTIVITIES)
    name = safe_file_name(file_name)
    try:
        frame = read_csv(name, data=data)
    except pl.exceptions.PolarsError as exc:  # e.g. a column named like the reader's own helper column
        raise FileError(name, f"not a readable CSV file ({exc.__class__.__name__})") from exc
    _check_header(name, frame)
    with db.unit_of_work() as connection:
        violations, igo_ids = _check_scope(connection, principal, frame)
    if violations:
        raise UploadRefusedError(name, violations[:MAX_LISTED], len(violations))
    with tempfile.TemporaryDirectory(prefix="integraal-upload-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        report = import_files(db, [path], actor=principal.username, kind="activities")[0]
    report.file = name
    with db.unit_of_work() as connection:
        audit.record(
            connection,
            principal.username,
            "upload",
            "activities",
            name,
            igo_ids=igo_ids,
            after={"import_run": report.run_id},
            accepted=report.accepted,
            rejected=report.rejected,
            rows=report.total,
        )
    return report


def _check_header(name: str, frame: pl.DataFrame) -> None:
    """Refuse a file whose header is not that of activities.csv, with the import's own message (FileError)."""
    validate(frame.head(0), name, FORMATS["activities"].columns(References()))
    if "pregnancy_id" not in frame.columns:
        # The column may be empty in every row, but the importer needs it in the header (it joins on it before
        # validating): say so instead of failing inside the import.
        raise FileError(name, "missing column pregnancy_id (it may be empty in every row, but must be in the header)")


def _igos_in_scope(connection: Connection, ids: set[str], scope: ColumnElement[bool]) -> dict[str, str]:
    """Pregnancy id → IGO for those of ``ids`` within ``scope``."""
    p = tables.pregnancies
    ordered = sorted(ids)
    found: dict[str, str] = {}
    for start in range(0, len(ordered), CHUNK):
        query = select(p.c.pregnancy_id, p.c.igo_id).where(p.c.pregnancy_id.in_(ordered[start : start + CHUNK]), scope)
        found.update((pid, igo) for pid, igo in connection.execute(query))
    return found


def _column(frame: pl.DataFrame, name: str) -> list[str]:
    return frame[name].to_list() if name in frame.columns else [""] * frame.height


def _check_scope(
    connection: Connection, principal: Principal, frame: pl.DataFrame
) -> tuple[list[ScopeViolation], set[str]]:
    """Rows outside the principal's write scope, and the IGOs the file's rows land in (for the audit log)."""
    rows = frame["__row"].to_list()
    agbs = _column(frame, "agb")
    bsns = _column(frame, "bsn")
    named = _column(frame, "pregnancy_id")
    dates = _column(frame, "date")
    violations: list[ScopeViolation] = []
    if principal.role is Role.MEMBER:
        violations.extend(
            ScopeViolation(row, "agb", agb, "a member registers only its own activities (its own AGB)")
            for row, agb in zip(rows, agbs, strict=True)
            if agb and agb != principal.agb
        )

    p = tables.pregnancies
    scope = writable_pregnancy_scope(principal)
    igo_of = _igos_in_scope(connection, {i for i in named if i}, scope)  # pregnancy id → IGO, in scope only
    not_yours = "not a pregnancy you may register activities for (unknown, or of another IGO)"
    violations.extend(
        ScopeViolation(row, "pregnancy_id", pid, not_yours)
        for row, pid in zip(rows, named, strict=True)
        if pid and pid not in igo_of
    )
    igo_ids = {igo_of[pid] for pid in named if pid in igo_of}

    # Rows naming no pregnancy land where the decision will match them: the woman's trajectory running on
    # that date. It must be one in scope (else the row could break another IGO's bundle).
    unnamed = [(row, bsn, day) for row, bsn, day, pid in zip(rows, bsns, dates, named, strict=True) if not pid and bsn]
    if unnamed:
        women = sorted({bsn for _, bsn, _ in unnamed})
        trajectory_ids: list[str] = []
        for start in range(0, len(women), CHUNK):
            chunk = women[start : start + CHUNK]
            trajectory_ids.extend(connection.execute(select(p.c.pregnancy_id).where(p.c.bsn.in_(chunk))).scalars())
        pregnancies = []
        for start in range(0, len(trajectory_ids), CHUNK):
            pregnancies.extend(load_pregnancies(connection, trajectory_ids[start : start + CHUNK]))
        in_scope = _igos_in_scope(connection, {pr.pregnancy_id for pr in pregnancies}, scope)
        index = TrajectoryIndex(pregnancies, trailing_days(load_catalogue()))
        for row, bsn, day in unnamed:
            try:
                running = index.running_on(bsn, date.fromisoformat(day))
            except ValueError:
                continue  # a bad date: the import's validation reports it
            if running is None or running.pregnancy_id not in in_scope:
                violations.append(
                    ScopeViolation(row, "bsn", bsn, "no pregnancy you may register activities for runs on this date")
                )
            else:
                igo_ids.add(in_scope[running.pregnancy_id])
    if principal.role is Role.SUPERUSER:
        return [], igo_ids  # no tenant: the import's own validation is the only check, as on the command line
    violations.sort(key=lambda v: (v.row, v.field))
    return violations, igo_ids
