"""Roles, principals and what each role may see of a BSN (services.access): pure, no database."""

from __future__ import annotations

import polars as pl
import pytest
from sqlalchemy import false, true
from sqlalchemy.dialects import sqlite

from integraal.domain.identifiers import pseudonymise_bsn
from integraal.services.access import (
    PERMISSIONS,
    AccessDeniedError,
    Action,
    Principal,
    Role,
    activity_scope,
    allowed,
    audit_scope,
    pregnancy_scope,
    present_bsn,
    require,
)


@pytest.mark.parametrize(
    ("role", "tenant"),
    [
        (Role.IGO_ADMIN, {}),
        (Role.IGO_BOARD, {"agb": "08000001"}),
        (Role.MEMBER, {"igo_id": "IGO-RIV"}),
        (Role.INSURER, {"uzovi": "33"}),
        (Role.ANALYST, {"igo_id": "IGO-RIV"}),
        (Role.SUPERUSER, {"uzovi": "3311"}),
        (Role.MEMBER, {"agb": "08000001", "igo_id": "IGO-RIV"}),
    ],
)
def test_a_principal_has_exactly_the_tenant_its_role_needs(role, tenant):
    with pytest.raises(ValueError, match=r"needs|digits"):
        Principal(1, "x", role, **tenant)


def test_analysts_never_read_rows_and_only_the_back_office_writes():
    """Issue 3: analysts see aggregates only; the board is read-only; insurers never upload."""
    for action in Action:
        if action is not Action.READ_AGGREGATES:
            assert Role.ANALYST not in PERMISSIONS[action], action
    writes = (Action.UPLOAD_ACTIVITIES, Action.RERUN_DECISIONS)
    for action in writes:
        assert Role.IGO_BOARD not in PERMISSIONS[action] and Role.INSURER not in PERMISSIONS[action]
    assert all(Role.SUPERUSER in roles for roles in PERMISSIONS.values())


def test_require_raises_for_a_role_without_the_action():
    member = Principal(3, "m", Role.MEMBER, agb="08000001")
    assert allowed(member, Action.READ_ACTIVITIES)
    with pytest.raises(AccessDeniedError, match="may not read pregnancies"):
        require(member, Action.READ_PREGNANCIES)


def test_bsn_is_clear_for_the_back_office_pseudonymised_for_board_and_insurer_hidden_for_analysts():
    key = b"k"
    expected = pseudonymise_bsn("111222333", key)
    assert present_bsn(Principal(1, "a", Role.IGO_ADMIN, igo_id="I"), "111222333", key) == ("111222333", None)
    assert present_bsn(Principal(1, "b", Role.IGO_BOARD, igo_id="I"), "111222333", key) == (None, expected)
    assert present_bsn(Principal(1, "i", Role.INSURER, uzovi="3311"), "111222333", key) == (None, expected)
    assert present_bsn(Principal(1, "s", Role.ANALYST), "111222333", key) == (None, None)


def _sql(clause) -> str:
    return str(clause.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))


def test_scope_filters_are_sql_that_name_the_tenant():
    assert (
        _sql(pregnancy_scope(Principal(1, "a", Role.IGO_ADMIN, igo_id="IGO-RIV"))) == "pregnancies.igo_id = 'IGO-RIV'"
    )
    assert _sql(pregnancy_scope(Principal(1, "i", Role.INSURER, uzovi="3311"))) == "pregnancies.uzovi = '3311'"
    activities = pl.DataFrame({"agb": ["08000001", "08000002"], "pregnancy_id": ["Z-1", None]})
    member, analyst = Principal(1, "m", Role.MEMBER, agb="08000001"), Principal(1, "x", Role.ANALYST)
    assert activities.filter(activity_scope(None, member))["agb"].to_list() == ["08000001"]  # no read for these
    assert activities.filter(activity_scope(None, analyst)).is_empty()
    assert "audit_scopes.igo_id = 'IGO-RIV'" in _sql(audit_scope(Principal(1, "a", Role.IGO_ADMIN, igo_id="IGO-RIV")))


@pytest.mark.parametrize("role", [Role.MEMBER, Role.ANALYST])
def test_roles_without_row_access_get_a_filter_that_matches_nothing(role):
    principal = Principal(1, "x", role, agb="08000001" if role is Role.MEMBER else None)
    assert _sql(pregnancy_scope(principal)) == _sql(false())
    assert _sql(pregnancy_scope(Principal(1, "root", Role.SUPERUSER))) == _sql(true())
