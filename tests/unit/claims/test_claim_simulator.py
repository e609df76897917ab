"""The insurer simulator: what an insurer answers to a claim file (DOMAIN.md §3 and §4, COD954 return codes).

Each check of ``integraal.claims.simulator`` has a test citing the COD954 row (``data/returncodes/cod954.csv``)
it plays; a hypothesis property covers the money invariants over random batches, and a round trip through the
KZ302 fixed-width writer and reader shows the simulated return is a valid return file.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from claim_strategies import bsn_from_prefix, claim_batches, sample_batch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integraal.claims.batch import ClaimBatch, ClaimBatchLine, DebitCredit, ReturnBatch, ReturnLine
from integraal.claims.formats.vektis_ei import read_return, write_return
from integraal.claims.lifecycle import ClaimState
from integraal.claims.returncodes import NextAction, UnknownReturnCodeError, next_action, return_codes
from integraal.claims.simulator import (
    EMITTED_CODES,
    InsuredPeriod,
    InsurerView,
    MonodisciplinaryClaim,
    PaidClaim,
    RandomRejection,
    simulate_return,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

IGO_AGB = "53001234"
UZOVI = "3311"
ANNA = "111222333"  # passes the 11-test
BEA = "123456782"  # passes the 11-test
ULTRASOUND_CENTRE_AGB = "24009876"  # not a member of the IGO
CREATED = date(2025, 6, 2)
RETURNED = date(2025, 6, 20)

# Contract tariffs are illustrative (free tariffs per contract); maximum tariffs from data/catalogue/2025.
CONTRACT = {"IG_PRENATAAL": 150_000, "IG_NATAAL_EERSTELIJN": 120_000}
MAXIMA = {"1101": 72_615, "MONO_ECHO_SEO": 21_031, "MONO_KZ_UUR": 6_577}


def line(
    line_id: str,
    *,
    bsn: str = ANNA,
    code: str = "IG_PRENATAAL",
    start: date = date(2025, 1, 6),
    end: date = date(2025, 5, 20),
    quantity: Decimal = Decimal(1),
    amount: int = 150_000,
    credit: bool = False,
    original: str | None = None,
) -> ClaimBatchLine:
    return ClaimBatchLine(
        line_id=line_id,
        bsn=bsn,
        prestatie_code=code,
        service_start=start,
        service_end=end,
        quantity=quantity,
        amount_cents=amount,
        debit_credit=DebitCredit.CREDIT if credit else DebitCredit.DEBIT,
        original_line_id=original,
    )


def batch(*lines: ClaimBatchLine, **changes: object) -> ClaimBatch:
    base = ClaimBatch(
        sender_agb=IGO_AGB,
        receiver_uzovi=UZOVI,
        batch_id="IGO-2025-012",
        creation_date=CREATED,
        period_start=date(2025, 1, 1),
        period_end=date(2025, 5, 31),
        lines=lines,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def view(**changes: object) -> InsurerView:
    base = InsurerView(
        uzovi=UZOVI,
        insured={ANNA: (InsuredPeriod(date(2024, 1, 1)),), BEA: (InsuredPeriod(date(2024, 1, 1)),)},
        contract_tariffs=CONTRACT,
        maximum_tariffs=MAXIMA,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def simulate(claims: ClaimBatch, insurer: InsurerView | None = None) -> ReturnBatch:
    return simulate_return(claims, insurer or view(), return_date=RETURNED, reference="ZV-2025-0042")


def only(returned: ReturnBatch) -> ReturnLine:
    (single,) = returned.lines
    return single


# --- the plain cases -------------------------------------------------------------------------------------------


def test_integral_line_within_tariff_and_insurance_is_accepted_in_full() -> None:
    """An insured woman, a contracted prestatie at the contract tariff: paid what was claimed, no codes."""
    returned = simulate(batch(line("L-1")))
    r = only(returned)
    assert (r.calculated_cents, r.awarded_cents, r.return_codes, r.insured_return_codes) == (150_000, 150_000, (), ())
    assert r.outcome() is ClaimState.ACCEPTED
    assert returned.header_return_codes == ()
    assert (returned.insurer_reference, returned.return_date) == ("ZV-2025-0042", RETURNED)


def test_amount_below_tariff_is_paid_as_claimed() -> None:
    """A maximum tariff is a ceiling: a lower claim is paid as claimed; the insurer's calculation is shown."""
    r = only(simulate(batch(line("L-1", code="1101", amount=70_000))))
    assert (r.calculated_cents, r.awarded_cents, r.return_codes) == (72_615, 70_000, ())


# --- 0320: not insured -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "periods",
    [
        pytest.param(None, id="unknown-bsn"),
        pytest.param((InsuredPeriod(date(2025, 3, 1)),), id="insured-from-mid-service"),
        pytest.param((InsuredPeriod(date(2024, 1, 1), date(2025, 4, 30)),), id="insurance-ended-mid-service"),
        pytest.param((InsuredPeriod(date(2023, 1, 1), date(2024, 12, 31)),), id="insured-earlier-only"),
    ],
)
def test_line_outside_insured_period_is_rejected_with_0320_on_the_insured_record(
    periods: tuple[InsuredPeriod, ...] | None,
) -> None:
    """COD954 0320 "Cliënt is niet verzekerd": the code sits on the insured record (02), the line is not paid.

    DOMAIN.md §4 names 0320 among the frequent codes; the service period must lie inside one insured period.
    """
    insured = {BEA: (InsuredPeriod(date(2024, 1, 1)),)} if periods is None else {ANNA: periods}
    r = only(simulate(batch(line("L-1")), view(insured=insured)))
    assert r.insured_return_codes == ("0320",)
    assert r.return_codes == ()
    assert r.awarded_cents == 0
    assert r.outcome() is ClaimState.REJECTED


def test_line_inside_one_of_several_insured_periods_is_accepted() -> None:
    """Switching insurer and back: any one insured period that covers the service period will do."""
    periods = (InsuredPeriod(date(2023, 1, 1), date(2023, 12, 31)), InsuredPeriod(date(2025, 1, 1)))
    r = only(simulate(batch(line("L-1")), view(insured={ANNA: periods})))
    assert r.awarded_cents == 150_000


# --- 0611: tariff missing or not per agreement -----------------------------------------------------------------


def test_prestatie_without_tariff_at_the_insurer_is_rejected_with_0611() -> None:
    """COD954 0611 "Tarief prestatie ontbreekt ...": the insurer has neither a contract nor a maximum tariff.

    Not 0582 (code does not exist): the insurer knows its tariffs, not the national code list.
    """
    r = only(simulate(batch(line("L-1", code="IG_POSTNATAAL_EERSTELIJN"))))
    assert (r.calculated_cents, r.awarded_cents, r.return_codes) == (0, 0, ("0611",))
    assert r.outcome() is ClaimState.REJECTED


def test_amount_above_tariff_times_quantity_is_reduced_with_0611() -> None:
    """COD954 0611 "... niet in overeenstemming met landelijke of contractafspraken": partial award.

    Kraamzorg per hour (DOMAIN.md §2): 24.5 hours × 65.77 = 1611.365 → 1611.37 (half-up, domain.money);
    the claim of 1700.00 is paid at 1611.37.
    """
    r = only(simulate(batch(line("L-1", code="MONO_KZ_UUR", quantity=Decimal("24.5"), amount=170_000))))
    assert (r.calculated_cents, r.awarded_cents, r.return_codes) == (161_137, 161_137, ("0611",))
    assert r.outcome() is ClaimState.PARTIALLY_ACCEPTED


def test_amount_above_a_zero_calculation_is_rejected_not_partially_paid() -> None:
    """Quantity 0 leaves nothing to pay: the line is rejected with 0611 rather than "partially" paid 0."""
    r = only(simulate(batch(line("L-1", code="MONO_KZ_UUR", quantity=Decimal(0), amount=100))))
    assert (r.awarded_cents, r.return_codes) == (0, ("0611",))


# --- 0587: already claimed or paid -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "paid",
    [
        pytest.param(PaidClaim(ANNA, "IG_PRENATAAL", date(2025, 1, 6), date(2025, 5, 20)), id="same-content"),
        pytest.param(PaidClaim(BEA, "1101", date(2024, 1, 1), date(2024, 2, 1), line_id="L-1"), id="same-line-id"),
    ],
)
def test_claim_the_insurer_already_paid_is_rejected_with_0587(paid: PaidClaim) -> None:
    """COD954 0587 "Prestatie / declaratie is reeds gedeclareerd en/of vergoed": a repeat of a paid line.

    The list has no separate code for a repeat to the same provider, so 0587 serves both.
    """
    r = only(simulate(batch(line("L-1")), view(paid=(paid,))))
    assert (r.calculated_cents, r.awarded_cents, r.return_codes) == (150_000, 0, ("0587",))


def test_second_identical_debit_in_one_file_is_rejected_with_0587() -> None:
    """COD954 0587: the first of two debits for the same care is paid, the second was then already claimed."""
    returned = simulate(batch(line("L-1"), line("L-2")))
    assert [(r.awarded_cents, r.return_codes) for r in returned.lines] == [(150_000, ()), (0, ("0587",))]


def test_integral_prenatal_line_overlapping_a_non_member_ultrasound_is_rejected_with_0587() -> None:
    """The bundle breaker (DOMAIN.md §3; COD954 0587 "... of is al eerder vergoed aan een ander").

    Worked example. Anna's prenatal care ran from her intake on 6 January to the start of labour on 20 May 2025;
    the IGO claims ``IG_PRENATAAL`` (1500.00) for it. On 12 March she had her 20-week scan (``MONO_ECHO_SEO``,
    210.31) at an ultrasound centre that is not a member of the IGO, and the insurer already paid the centre.
    Under the ban on overlapping prestaties the insurer pays either the integral prestatie or the
    monodisciplinary claims, never both: the integral line is rejected with 0587, and Integraal's next action
    for 0587 is to feed the claim back into the bundle decision. Bea, in the same file, had no outside care and
    is paid.
    """
    scan = MonodisciplinaryClaim(ANNA, date(2025, 3, 12), date(2025, 3, 12), ULTRASOUND_CENTRE_AGB, "MONO_ECHO_SEO")
    claims = batch(line("ANNA-PRE"), line("BEA-PRE", bsn=BEA, start=date(2025, 1, 9), end=date(2025, 5, 28)))
    anna, bea = simulate(claims, view(monodisciplinary_paid=(scan,))).lines
    assert (anna.calculated_cents, anna.awarded_cents, anna.return_codes) == (150_000, 0, ("0587",))
    assert anna.insured_return_codes == ()
    assert anna.outcome() is ClaimState.REJECTED
    assert next_action("0587") is NextAction.REBUNDLE
    assert (bea.awarded_cents, bea.return_codes) == (150_000, ())


@pytest.mark.parametrize(
    ("bsn", "day"),
    [
        pytest.param(ANNA, date(2025, 5, 21), id="day-after-the-prenatal-period"),
        pytest.param(ANNA, date(2025, 1, 5), id="day-before-the-intake"),
        pytest.param(BEA, date(2025, 3, 12), id="another-woman"),
    ],
)
def test_non_member_claim_outside_the_period_or_for_another_woman_does_not_break_the_bundle(
    bsn: str, day: date
) -> None:
    """DOMAIN.md §3: only care that overlaps the integral prestatie's period, for the same woman, collides."""
    scan = MonodisciplinaryClaim(bsn, day, day, ULTRASOUND_CENTRE_AGB, "MONO_ECHO_SEO")
    r = only(simulate(batch(line("L-1")), view(monodisciplinary_paid=(scan,))))
    assert (r.awarded_cents, r.return_codes) == (150_000, ())


def test_non_member_claim_touching_the_last_day_breaks_the_bundle() -> None:
    """Periods are inclusive: a scan on the last day of the prenatal period overlaps it (DOMAIN.md §3)."""
    scan = MonodisciplinaryClaim(ANNA, date(2025, 5, 20), date(2025, 5, 20), ULTRASOUND_CENTRE_AGB, "MONO_ECHO_SEO")
    r = only(simulate(batch(line("L-1")), view(monodisciplinary_paid=(scan,))))
    assert r.return_codes == ("0587",)


def test_non_member_claim_does_not_reject_a_monodisciplinary_line() -> None:
    """The overlap ban concerns the integral prestatie: a monodisciplinary line is judged on its own."""
    scan = MonodisciplinaryClaim(ANNA, date(2025, 3, 12), date(2025, 3, 12), ULTRASOUND_CENTRE_AGB, "MONO_ECHO_SEO")
    r = only(simulate(batch(line("L-1", code="1101", amount=72_615)), view(monodisciplinary_paid=(scan,))))
    assert (r.awarded_cents, r.return_codes) == (72_615, ())


def test_overlap_settled_in_the_contract_does_not_reject_the_integral_line() -> None:
    """DOMAIN.md §3: under a regular policy rule overlap is settled in the contract, not by rejecting (0587)."""
    scan = MonodisciplinaryClaim(ANNA, date(2025, 3, 12), date(2025, 3, 12), ULTRASOUND_CENTRE_AGB, "MONO_ECHO_SEO")
    r = only(simulate(batch(line("L-1")), view(monodisciplinary_paid=(scan,), overlap_ban=False)))
    assert (r.awarded_cents, r.return_codes) == (150_000, ())


# --- credits ---------------------------------------------------------------------------------------------------


def test_credit_of_a_paid_line_is_accepted_with_its_negative_amount() -> None:
    """DOMAIN.md §4 "Corrections are credit/debit pairs": a credit of a paid line takes its money back."""
    paid = PaidClaim(ANNA, "IG_PRENATAAL", date(2025, 1, 6), date(2025, 5, 20), line_id="L-0")
    r = only(simulate(batch(line("L-1C", credit=True, original="L-0")), view(paid=(paid,))))
    assert (r.calculated_cents, r.awarded_cents, r.return_codes) == (-150_000, -150_000, ())
    assert r.outcome() is ClaimState.ACCEPTED


@pytest.mark.parametrize(
    "paid",
    [
        pytest.param((), id="nothing-paid"),
        pytest.param((PaidClaim(ANNA, "IG_PRENATAAL", date(2025, 1, 6), date(2025, 5, 20)),), id="paid-without-id"),
        pytest.param(
            (PaidClaim(BEA, "IG_PRENATAAL", date(2025, 1, 6), date(2025, 5, 20), line_id="L-0"),),
            id="id-of-another-womans-line",
        ),
        pytest.param(
            (PaidClaim(ANNA, "IG_NATAAL_EERSTELIJN", date(2025, 1, 6), date(2025, 5, 20), line_id="L-0"),),
            id="id-of-another-prestatie",
        ),
    ],
)
def test_credit_of_an_unknown_original_is_rejected_with_0631(paid: tuple[PaidClaim, ...]) -> None:
    """COD954 0631 "Indicatie debet/credit ontbreekt of is onjuist": a credit with nothing to take back."""
    r = only(simulate(batch(line("L-1C", credit=True, original="L-0")), view(paid=paid)))
    assert (r.awarded_cents, r.return_codes) == (0, ("0631",))
    assert r.outcome() is ClaimState.REJECTED


def test_second_credit_of_the_same_paid_line_is_rejected_with_0631() -> None:
    """A paid line can be taken back once; the second credit has nothing left to take back (COD954 0631)."""
    paid = PaidClaim(ANNA, "IG_PRENATAAL", date(2025, 1, 6), date(2025, 5, 20), line_id="L-0")
    claims = batch(line("L-1C", credit=True, original="L-0"), line("L-2C", credit=True, original="L-0"))
    first, second = simulate(claims, view(paid=(paid,))).lines
    assert (first.awarded_cents, first.return_codes) == (-150_000, ())
    assert (second.awarded_cents, second.return_codes) == (0, ("0631",))


def test_correction_in_one_file_pays_the_replacement_after_the_credit() -> None:
    """docs/claims.md §1: credit the old line and debit the new amount; the replacement is no duplicate (0587)
    because the credit takes the paid line back first, wherever the lines stand in the file."""
    paid = PaidClaim(ANNA, "IG_PRENATAAL", date(2025, 1, 6), date(2025, 5, 20), line_id="L-0")
    claims = batch(line("L-3", amount=120_000, original="L-0"), line("L-2C", credit=True, original="L-0"))
    replacement, credit = simulate(claims, view(paid=(paid,))).lines
    assert (credit.awarded_cents, credit.return_codes) == (-150_000, ())
    assert (replacement.awarded_cents, replacement.return_codes) == (120_000, ())


def test_replacement_without_the_credit_is_a_duplicate_0587() -> None:
    """Without the credit the paid original still stands, so the replacement repeats it (COD954 0587)."""
    paid = PaidClaim(ANNA, "IG_PRENATAAL", date(2025, 1, 6), date(2025, 5, 20), line_id="L-0")
    r = only(simulate(batch(line("L-3", amount=120_000, original="L-0")), view(paid=(paid,))))
    assert (r.awarded_cents, r.return_codes) == (0, ("0587",))


def test_debit_and_identical_credit_in_one_file_get_8062_on_both() -> None:
    """COD954 8062 "Debetregel en identieke creditregel in hetzelfde bestand is niet toegestaan".

    A correction that does not change the amount produces exactly this pair (docs/claims.md §1).
    """
    paid = PaidClaim(ANNA, "IG_PRENATAAL", date(2025, 1, 6), date(2025, 5, 20), line_id="L-0")
    claims = batch(line("L-2C", credit=True, original="L-0"), line("L-3", original="L-0"), line("B", bsn=BEA))
    credit, debit, other = simulate(claims, view(paid=(paid,))).lines
    assert (credit.awarded_cents, credit.return_codes) == (0, ("8062",))
    assert (debit.awarded_cents, debit.return_codes) == (0, ("8062",))
    assert (other.awarded_cents, other.return_codes) == (150_000, ())


# --- identification and dates ----------------------------------------------------------------------------------


def test_bsn_failing_the_eleven_test_gets_0435_on_the_insured_record() -> None:
    """COD954 0435 "Burgerservicenummer (bsn) verzekerde ontbreekt of is onjuist"; our writer refuses such a
    line, but the simulator checks like an insurer does."""
    r = only(simulate(batch(line("L-1", bsn="111222334")), view(insured={"111222334": (InsuredPeriod(CREATED),)})))
    assert (r.insured_return_codes, r.return_codes, r.awarded_cents) == (("0435",), (), 0)


@pytest.mark.parametrize(
    ("start", "end", "codes"),
    [
        pytest.param(date(2025, 5, 1), date(2025, 6, 3), ("8178",), id="end-after-invoice"),
        pytest.param(date(2025, 6, 3), date(2025, 6, 10), ("8177", "8178"), id="start-and-end-after-invoice"),
        pytest.param(date(2025, 5, 1), CREATED, (), id="end-on-invoice-date"),
    ],
)
def test_service_dates_after_the_invoice_date_get_8177_and_8178(start: date, end: date, codes: tuple[str, ...]) -> None:
    """COD954 8177 (begindatum) and 8178 (einddatum prestatie) "moet kleiner zijn dan of gelijk zijn aan
    factuurdatum"; the invoice date is the file's creation date (DOMAIN.md §4 names 8176-8178)."""
    r = only(simulate(batch(line("L-1", start=start, end=end))))
    assert r.return_codes == codes
    assert r.awarded_cents == (0 if codes else 150_000)


# --- the whole file ----------------------------------------------------------------------------------------------


def test_file_for_another_insurer_is_refused_whole_with_0018() -> None:
    """COD954 0018 "UZOVI-nummer ontbreekt of is onjuist (voorlooprecord)": a header code refuses the file;
    every line is echoed not assessed (nothing calculated, nothing paid, no codes of its own)."""
    returned = simulate(batch(line("L-1"), line("L-2", bsn=BEA)), view(uzovi="7095"))
    assert returned.header_return_codes == ("0018",)
    assert all(r == ReturnLine(r.line, 0, 0) for r in returned.lines)
    assert returned.total_awarded_cents == 0


def test_claim_period_ending_before_it_starts_refuses_the_file_with_0021() -> None:
    """COD954 0021 "Einddatum declaratieperiode ontbreekt of is onjuist" is a header code as well."""
    returned = simulate(batch(line("L-1"), period_end=date(2024, 12, 31)))
    assert returned.header_return_codes == ("0021",)
    assert only(returned) == ReturnLine(line("L-1"), 0, 0)


def test_every_code_the_simulator_emits_is_in_the_cod954_list() -> None:
    """The codes are data (COD954): a typo in the simulator fails here, not at the IGO's desk."""
    assert set(return_codes()) >= EMITTED_CODES
    assert {"0018", "0021", "0320", "0435", "0587", "0611", "0631", "8062", "8177", "8178"} == EMITTED_CODES


# --- demos: seeded random rejection ----------------------------------------------------------------------------


def _many_lines() -> ClaimBatch:
    return batch(*(line(f"L-{i}", bsn=ANNA if i % 2 else BEA, start=date(2025, 1, 1 + i)) for i in range(20)))


def test_random_rejection_is_seeded_and_only_rejects_lines_that_would_be_paid() -> None:
    """Demo mode: the same seed gives the same return; a share of 1 rejects every payable line with the code."""
    claims = _many_lines()
    demo = RandomRejection(share=0.5, code="0613", seed=7)
    first = simulate_return(claims, view(), return_date=RETURNED, reference="R", random_rejection=demo)
    again = simulate_return(claims, view(), return_date=RETURNED, reference="R", random_rejection=demo)
    assert first == again
    rejected = [r for r in first.lines if r.return_codes == ("0613",)]
    assert 0 < len(rejected) < len(claims.lines)
    assert all(r.awarded_cents == 0 for r in rejected)
    everything = RandomRejection(share=1.0, code="0613", seed=7)
    all_rejected = simulate_return(claims, view(), return_date=RETURNED, reference="R", random_rejection=everything)
    assert {r.return_codes for r in all_rejected.lines} == {("0613",)}


def test_random_rejection_is_off_by_default_and_share_zero_changes_nothing() -> None:
    """Deterministic by default: no line is rejected at random unless asked for."""
    claims = _many_lines()
    plain = simulate(claims)
    zero = simulate_return(
        claims, view(), return_date=RETURNED, reference="ZV-2025-0042", random_rejection=RandomRejection(0.0)
    )
    assert plain == zero
    assert all(r.return_codes == () for r in plain.lines)


def test_random_rejection_with_a_code_not_in_cod954_is_refused() -> None:
    """An unknown code is never emitted (``returncodes.UnknownReturnCodeError``), nor a share outside 0..1."""
    with pytest.raises(UnknownReturnCodeError):
        RandomRejection(0.1, code="9999")
    with pytest.raises(ValueError, match="share"):
        RandomRejection(1.5)


# --- the view and the arguments --------------------------------------------------------------------------------


def test_insurer_view_does_not_change_when_the_dicts_passed_in_do() -> None:
    """The view is a frozen value: later edits of the caller's dicts do not leak into it."""
    tariffs = dict(CONTRACT)
    insured = {ANNA: (InsuredPeriod(date(2024, 1, 1)),)}
    frozen = InsurerView(uzovi=UZOVI, insured=insured, contract_tariffs=tariffs)
    tariffs["IG_PRENATAAL"] = 1
    insured.clear()
    assert frozen.tariff("IG_PRENATAAL") == 150_000
    assert frozen.is_insured(ANNA, date(2025, 1, 1), date(2025, 2, 1))


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"uzovi": "33"}, id="uzovi-not-4-digits"),
        pytest.param({"maximum_tariffs": {"IG_PRENATAAL": 1}}, id="code-with-two-tariffs"),
        pytest.param({"contract_tariffs": {"IG_PRENATAAL": -1}}, id="negative-tariff"),
    ],
)
def test_insurer_view_refuses_an_inconsistent_setup(changes: dict[str, object]) -> None:
    """A view the insurer could not hold is a programming error, raised at construction."""
    with pytest.raises(ValueError):  # noqa: PT011 - the message differs per case
        view(**changes)


def test_return_before_the_file_was_made_is_refused() -> None:
    """An insurer cannot answer a file before its creation date."""
    with pytest.raises(ValueError, match="before the file's creation date"):
        simulate_return(batch(line("L-1")), view(), return_date=date(2025, 6, 1), reference="R")


# --- properties over random batches ----------------------------------------------------------------------------

OTHER_AGB = "24000001"


@st.composite
def assessments(draw: st.DrawFn, *, writable: bool = False) -> tuple[ClaimBatch, InsurerView, RandomRejection]:
    """A random claim batch (``claim_strategies.claim_batches``) and an insurer view that knows parts of it.

    Some people are insured, some codes have tariffs, some lines (and the originals of some credits) are paid,
    some women had care from a non-member; the invoice date may move back so 8177/8178 occur, a debit may be
    mirrored by an identical credit (8062), and a BSN may fail the 11-test (0435).
    """
    claims = draw(claim_batches())
    lines = list(claims.lines)
    mirror_id = lines[0].line_id[:19] + "~" if lines else ""
    if lines and mirror_id not in {x.line_id for x in lines} and draw(st.booleans()):
        first = lines[0]
        lines[0] = replace(first, debit_credit=DebitCredit.DEBIT)
        credit = DebitCredit.CREDIT
        lines.append(replace(first, line_id=mirror_id, debit_credit=credit, original_line_id=first.line_id))
    if not writable and lines and draw(st.booleans()):
        lines[0] = replace(lines[0], bsn=lines[0].bsn[:8] + str((int(lines[0].bsn[8]) + 1) % 10))
    claims = replace(
        claims, lines=tuple(lines), creation_date=claims.creation_date - timedelta(days=draw(st.sampled_from([0, 30])))
    )
    bsns = sorted({x.bsn for x in claims.lines})
    codes = sorted({x.prestatie_code for x in claims.lines})
    # Small tariffs keep tariff x quantity inside the N8 amount field; large ones make claims fall below tariff.
    tariff = st.integers(0, 9_999) if writable else st.integers(0, 9_999) | st.integers(0, 10_000_000)
    priced = [code for code in codes if draw(st.integers(0, 3)) != 3]  # mostly priced
    integral = set(draw(st.lists(st.sampled_from(priced), unique=True))) if priced else set()
    always = (InsuredPeriod(date(2019, 1, 1)),)
    insured = {
        bsn: always
        if draw(st.integers(0, 2)) != 2  # mostly insured throughout
        else tuple(
            InsuredPeriod(start, draw(st.none() | st.dates(min_value=start, max_value=date(2027, 1, 1))))
            for start in draw(st.lists(st.dates(date(2019, 1, 1), date(2026, 12, 31)), max_size=2))
        )
        for bsn in bsns
    }
    paid = []
    for x in claims.lines:
        # The originals of most credits are paid; some debits repeat a paid line.
        if draw(st.integers(0, 3)) != 3 if x.debit_credit is DebitCredit.CREDIT else draw(st.integers(0, 3)) == 3:
            line_id = x.original_line_id if x.debit_credit is DebitCredit.CREDIT else x.line_id
            paid.append(PaidClaim(x.bsn, x.prestatie_code, x.service_start, x.service_end, line_id))
    mono = [
        MonodisciplinaryClaim(bsn, day, day + timedelta(days=draw(st.integers(0, 60))), OTHER_AGB, "MONO_ECHO_SEO")
        for bsn in bsns
        for day in draw(st.lists(st.dates(date(2019, 6, 1), date(2026, 12, 31)), max_size=1))
    ]
    insurer = InsurerView(
        uzovi="9999" if draw(st.integers(0, 9)) == 9 else claims.receiver_uzovi,  # sometimes the wrong insurer
        insured=insured,
        contract_tariffs={code: draw(tariff) for code in priced if code in integral},
        maximum_tariffs={code: draw(tariff) for code in priced if code not in integral},
        paid=tuple(paid),
        monodisciplinary_paid=tuple(mono),
        overlap_ban=draw(st.booleans()),
    )
    demo = RandomRejection(share=draw(st.sampled_from([0.0, 0.3])), code="0613", seed=draw(st.integers(0, 99)))
    return claims, insurer, demo


@SETTINGS
@given(assessments())
def test_every_line_gets_exactly_one_verdict_and_the_money_adds_up(
    case: tuple[ClaimBatch, InsurerView, RandomRejection],
) -> None:
    """DOMAIN.md §4 and the KZ302 layout: one return line per claim line, in order; accepted lines are awarded
    exactly their signed amount, rejected lines 0, a partial award (0611) less than claimed with the same sign;
    the awarded total is the sum of the lines; every code is in COD954 and fits the three slots of a record."""
    claims, insurer, demo = case
    returned = simulate_return(claims, insurer, return_date=claims.creation_date, reference="P", random_rejection=demo)
    assert [r.line for r in returned.lines] == list(claims.lines)
    known = set(return_codes())
    assert set(returned.header_return_codes) <= known
    assert len(returned.header_return_codes) <= 3
    accepted_total = partial_total = 0
    for r in returned.lines:
        codes = (*returned.header_return_codes, *r.insured_return_codes, *r.return_codes)
        assert set(codes) <= known
        assert len(r.return_codes) <= 3
        assert len(r.insured_return_codes) <= 3
        if not codes:  # accepted
            assert r.awarded_cents == r.line.signed_cents
            accepted_total += r.awarded_cents
        elif r.awarded_cents == 0:  # rejected (or, with a header code, not assessed)
            pass
        else:  # partially accepted: only the tariff cap pays less than claimed
            assert r.return_codes == ("0611",)
            assert r.insured_return_codes == ()
            assert r.line.debit_credit is DebitCredit.DEBIT
            assert 0 < r.awarded_cents < r.line.signed_cents
            assert r.outcome() is ClaimState.PARTIALLY_ACCEPTED
            partial_total += r.awarded_cents
        if r.insured_return_codes or returned.header_return_codes:
            assert r.awarded_cents == 0
    assert returned.total_awarded_cents == sum(r.awarded_cents for r in returned.lines)
    assert returned.total_awarded_cents == accepted_total + partial_total
    if returned.header_return_codes:
        assert all(r == ReturnLine(r.line, 0, 0) for r in returned.lines)


@SETTINGS
@given(assessments())
def test_simulation_is_deterministic(case: tuple[ClaimBatch, InsurerView, RandomRejection]) -> None:
    """Same batch, same view, same seed: the same return (no clock, no unseeded randomness)."""
    claims, insurer, demo = case
    first = simulate_return(claims, insurer, return_date=claims.creation_date, reference="P", random_rejection=demo)
    again = simulate_return(claims, insurer, return_date=claims.creation_date, reference="P", random_rejection=demo)
    assert first == again


# --- round trip through the KZ302 fixed-width format -----------------------------------------------------------


def test_simulated_return_writes_and_reads_back_identically_as_kz302() -> None:
    """docs/claims.md §3: writing then reading a KZ302 file gives the identical ``ReturnBatch``; the simulated
    return is a valid return file with accepted, partial, rejected, not-insured, bundle-breaker and credit lines."""
    paid = PaidClaim(BEA, "IG_PRENATAAL", date(2025, 1, 9), date(2025, 5, 28), line_id="B-0")
    scan = MonodisciplinaryClaim(ANNA, date(2025, 3, 12), date(2025, 3, 12), ULTRASOUND_CENTRE_AGB, "MONO_ECHO_SEO")
    carla = bsn_from_prefix("23456789")
    assert carla is not None
    claims = batch(
        line("ANNA-PRE"),  # 0587: the bundle breaker
        line("ANNA-KZ", code="MONO_KZ_UUR", quantity=Decimal("24.5"), amount=170_000),  # partial, 0611
        line("BEA-C", bsn=BEA, start=date(2025, 1, 9), end=date(2025, 5, 28), credit=True, original="B-0"),
        line("BEA-D", bsn=BEA, start=date(2025, 1, 9), end=date(2025, 5, 28), amount=140_000, original="B-0"),
        line("BEA-X", bsn=BEA, code="UNKNOWN", amount=1_000),  # 0611, no tariff
        line("CARLA", bsn=carla),  # 0320 on the insured record
        line("ANNA-LATE", code="1101", start=date(2025, 5, 25), end=date(2025, 6, 5), amount=72_615),  # 8178
        line("ANNA-C", code="IG_NATAAL_EERSTELIJN", amount=120_000, credit=True, original="NEVER"),  # 0631
    )
    returned = simulate(claims, view(paid=(paid,), monodisciplinary_paid=(scan,)))
    verdicts = [(r.awarded_cents, r.return_codes, r.insured_return_codes) for r in returned.lines]
    assert verdicts == [
        (0, ("0587",), ()),
        (161_137, ("0611",), ()),
        (-150_000, (), ()),
        (140_000, (), ()),
        (0, ("0611",), ()),
        (0, (), ("0320",)),
        (0, ("8178",), ()),
        (0, ("0631",), ()),
    ]
    assert read_return(write_return(returned)) == returned


def test_refused_file_writes_and_reads_back_identically_as_kz302() -> None:
    """A whole-file refusal (header code 0018) is a valid KZ302 file too and survives the round trip."""
    returned = simulate(sample_batch(), view(uzovi="7095"))
    assert returned.header_return_codes == ("0018",)
    assert read_return(write_return(returned)) == returned


@SETTINGS
@given(assessments(writable=True))
def test_any_simulated_return_writes_and_reads_back_identically_as_kz302(
    case: tuple[ClaimBatch, InsurerView, RandomRejection],
) -> None:
    """Property form of the round trip (docs/claims.md §3), over random batches with writable BSNs and tariffs
    small enough that tariff × quantity fits the N8 amount field."""
    claims, insurer, demo = case
    returned = simulate_return(claims, insurer, return_date=claims.creation_date, reference="P", random_rejection=demo)
    assert read_return(write_return(returned)) == returned
