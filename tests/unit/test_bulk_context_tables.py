"""The columnar engine's tables of a context (``rules.bulk._tables``): what depends on the context alone is made
once per context object and IGOs and reused for the next part of a run; the contracts always follow the
pregnancies given, and another context gets its own tables."""

from __future__ import annotations

import dataclasses
from datetime import date

import polars as pl
from builders import HOSPITAL, INSURER, MIDWIFE, make_context
from polars.testing import assert_frame_equal

from integraal.domain.igo import MembershipPeriod, MembershipRegister
from integraal.rules import bulk


def _pregnancies(*pairs: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame({"igo_id": [igo for igo, _ in pairs], "uzovi": [uzovi for _, uzovi in pairs]})


def _same(made: bulk._Tables, fresh: bulk._Tables) -> None:
    for field in dataclasses.fields(bulk._Tables):
        mine, theirs = getattr(made, field.name), getattr(fresh, field.name)
        if isinstance(theirs, pl.DataFrame):
            assert_frame_equal(mine, theirs)
        else:
            assert mine == theirs, field.name


def test_a_context_s_tables_are_made_once_and_the_contracts_follow_the_pregnancies() -> None:
    context = make_context()
    first = bulk._tables(context, _pregnancies(("IGO1", INSURER)))
    again = bulk._tables(context, _pregnancies(("IGO1", INSURER)))
    assert again.agbs is first.agbs and again.rulesets is first.rulesets  # not made again
    none = bulk._tables(context, _pregnancies(("IGO1", "9999")))  # no contract with this insurer
    assert none.agbs is first.agbs
    assert first.contracts.height == 2 and none.contracts.height == 0 and none.tariffs.height == 0
    bulk._CONTEXT_TABLES.clear()
    _same(again, bulk._tables(context, _pregnancies(("IGO1", INSURER))))


def test_another_context_or_another_igo_gets_tables_of_its_own() -> None:
    context = make_context()
    first = bulk._tables(context, _pregnancies(("IGO1", INSURER)))
    # The same IGO and AGBs, but a midwife who left: another object, so its own membership periods.
    left = dataclasses.replace(
        context,
        memberships=MembershipRegister(
            [
                MembershipPeriod("IGO1", MIDWIFE, date(2020, 1, 1), date(2024, 12, 31)),
                MembershipPeriod("IGO1", HOSPITAL, date(2020, 1, 1)),
            ]
        ),
    )
    theirs = bulk._tables(left, _pregnancies(("IGO1", INSURER)))
    assert theirs.agbs is not first.agbs
    midwife = theirs.agbs.filter(pl.col("agb") == MIDWIFE)
    assert midwife["me0"].to_list() == [date(2024, 12, 31)]
    # A pregnancy of an IGO the context does not know adds that IGO's rows.
    stranger = bulk._tables(left, _pregnancies(("IGO9", INSURER)))
    assert set(stranger.agbs["igo_id"]) == {"IGO1", "IGO9"}
    assert set(theirs.agbs["igo_id"]) == {"IGO1"}
