"""Return codes as data: COD954 with our next action per code, COD027 processing outcomes.

Sources: DOMAIN.md §4 (the frequent codes), Vektis "Retourinformatie" and code lists COD954-VEKT and
COD027-VEK1 (URLs in the ``source`` column of each CSV row).
"""

from __future__ import annotations

import dataclasses

import pytest

from integraal.claims.returncodes import (
    NextAction,
    ProcessingOutcome,
    UnknownReturnCodeError,
    Verification,
    next_action,
    processing_code,
    processing_codes,
    return_code,
    return_codes,
)

DOMAIN_CODES = ("0587", "0320", "0611", "0613", "0559", "0435", "8176", "8177", "8178", "0804", "8062")


@pytest.mark.parametrize("code", DOMAIN_CODES)
def test_every_code_domain_md_names_is_shipped_and_verified_at_vektis(code: str) -> None:
    """DOMAIN.md §4 lists these as the frequent return codes; each is on a Vektis page."""
    entry = return_code(code)
    assert entry.verification is Verification.VEKTIS
    assert "vektis.nl" in entry.source
    assert entry.text_nl and entry.text_en


def test_bundle_breaker_0587_feeds_back_into_the_bundle_decision() -> None:
    """0587 "already claimed/paid, also to another": the collision of DOMAIN.md §3, so we rebundle."""
    assert next_action("0587") is NextAction.REBUNDLE


def test_performer_without_agreement_is_for_the_member_to_fix() -> None:
    assert next_action("0559") is NextAction.ASK_MEMBER


def test_unknown_return_code_raises_naming_the_code_never_a_default_action() -> None:
    with pytest.raises(UnknownReturnCodeError, match="'9999'") as caught:
        next_action("9999")
    assert caught.value.code == "9999"
    assert isinstance(caught.value, LookupError)


def test_every_row_is_four_digits_with_a_source() -> None:
    codes = return_codes()
    assert len(codes) >= len(DOMAIN_CODES)
    for code, entry in codes.items():
        assert len(code) == 4 and code.isdigit() and entry.code == code
        assert entry.source.startswith("[")
        assert entry.text("nl") == entry.text_nl and entry.text("en") == entry.text_en


def test_processing_codes_cover_every_outcome_family() -> None:
    """COD027 "Code verwerking": accepted, not assessed, with reservation, partial, no payment, not processed."""
    assert {entry.outcome for entry in processing_codes().values()} == set(ProcessingOutcome)
    assert processing_code("003").outcome is ProcessingOutcome.NOT_ASSESSED
    assert processing_code("011").outcome is ProcessingOutcome.PARTIAL_PAYMENT
    with pytest.raises(UnknownReturnCodeError, match="COD027"):
        processing_code("777")


def test_a_partly_read_source_row_is_marked_unverified() -> None:
    """COD027 981: the stored Vektis page was cut mid-text, so the row says so."""
    assert processing_code("981").verification is Verification.UNVERIFIED


def test_code_entries_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        return_code("0587").next_action = NextAction.NONE  # type: ignore[misc]
