"""The insurer simulator: answers a claim file the way an insurer would, for tests and demos (DOMAIN.md §4).

:func:`simulate_return` takes a :class:`~integraal.claims.batch.ClaimBatch` and what the insurer knows
(:class:`InsurerView`: who is insured when, the tariffs, what it already paid) and gives the
:class:`~integraal.claims.batch.ReturnBatch` (KZ302-style) the insurer would send back. It is a pure function:
no files, no clock, no randomness unless asked for with a seed (:class:`RandomRejection`). It owns nothing else;
the real insurer's rules are richer, this plays the ones Integraal must be able to handle.

Every code it emits is a COD954 code from ``integraal/data/returncodes/cod954.csv``, looked up through
:func:`integraal.claims.returncodes.return_code` when emitted, so a code missing from the list fails loudly.

How a file is assessed, in order (the first stage that finds something decides the line's verdict):

1. **File** (header record): a file addressed to another insurer is refused whole with **0018** (UZOVI number
   in the header wrong); a claim period that ends before it starts with **0021**. Then every line is *not
   assessed*: echoed with calculated and awarded 0 and no codes of its own.
2. **Identification and form**, per line: BSN failing the 11-test gives **0435** on the insured record; a
   service start after the invoice (creation) date **8177**, a service end after it **8178**; a debit and an
   identical credit (same person, prestatie, dates, quantity and amount) in one file **8062** on both. Any of
   these rejects the line; together they are at most one insured code and three line codes, which is what a
   KZ302 record holds.
3. **Insurance**: the service period must lie inside one insured period with this insurer, else **0320** on the
   insured record (a parent record rejected: the line itself gets no code and is not assessed further).
4. **Content**. Credits are assessed before debits, as an insurer books reversals before new claims, so a
   correction (credit the old line, debit the replacement) in one file works:

   - a credit must take back a line the insurer paid (:class:`PaidClaim` with that ``line_id`` and the same
     person, prestatie and dates), at most once; it is then awarded its full signed amount. Otherwise **0631**;
   - a debit whose prestatie has no tariff at this insurer: **0611**, rejected;
   - a debit already paid (same line id, or same person, prestatie and dates; in :attr:`InsurerView.paid` and
     not taken back by a credit in this file, or awarded earlier in this same file): **0587**, rejected;
   - an *integral* debit whose service period overlaps a monodisciplinary claim already paid to a non-member
     (:attr:`InsurerView.monodisciplinary_paid`): **0587**, rejected — the bundle breaker (bundelbreker) the
     IGO did not know about (DOMAIN.md §3), only while the overlap ban holds (``overlap_ban``);
   - a debit claiming more than tariff × quantity: awarded tariff × quantity (a partial award) with **0611**;
     rejected with 0611 when tariff × quantity is 0 (nothing left to pay);
   - otherwise accepted, awarded exactly the claimed amount.

Amounts on every line are signed cents: ``calculated_cents`` is what the insurer computes, tariff × quantity
(rounded half-up, :func:`integraal.domain.money.amount_for`) signed like the line, 0 when it has no tariff or
did not assess the file; ``awarded_cents`` is what it pays: the signed claimed amount when accepted, the
reduced amount when partial, 0 when rejected.

Why these codes, from the COD954 texts:

- **0611** "Tarief prestatie ontbreekt of is niet in overeenstemming met landelijke of contractafspraken" covers
  both the unknown prestatie (no tariff) and the amount above the agreed or maximum tariff. Not **0582**
  (prestatie code does not exist at all): the simulated insurer knows its tariffs, not the national code list,
  so it cannot tell a non-existent code from one it has no agreement for. Not **0613** (not claimable under the
  insurance conditions) or **0584** (maximum number or time exceeded): those are about the policy and the
  quantity, not the price.
- **0587** "reeds gedeclareerd en/of vergoed of is al eerder vergoed aan een ander" is the only duplicate code
  in the list; it covers both a repeat by the IGO itself and the collision with another provider's claim.
- **0631** "Indicatie debet/credit ontbreekt of is onjuist" for a credit with nothing (left) to take back: as
  far as the insurer can see, the line should not have been a credit. The list has no code for a wrong
  "referentienummer voorgaande prestatierecord"; **0801** is about the record's own sequence number.
- **0018** "UZOVI-nummer ontbreekt of is onjuist (voorlooprecord)" for a file sent to the wrong insurer, a
  header-level code, so the whole file is refused.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from integraal.claims.batch import ClaimBatch, ClaimBatchLine, DebitCredit, ReturnBatch, ReturnLine
from integraal.claims.returncodes import return_code
from integraal.domain.identifiers import is_valid_agb, is_valid_bsn, is_valid_uzovi
from integraal.domain.money import amount_for

# The COD954 codes the simulator emits. Each is looked up in the shipped list when emitted (``_code``).
WRONG_UZOVI = "0018"  # header: UZOVI number missing or wrong
WRONG_PERIOD_END = "0021"  # header: claim period end missing or wrong (before the start)
NOT_INSURED = "0320"  # insured record: not insured with this insurer on the service dates
INVALID_BSN = "0435"  # insured record: BSN missing or invalid (11-test)
ALREADY_PAID = "0587"  # already claimed and/or paid, also to another provider: duplicate and bundle breaker
TARIFF = "0611"  # tariff missing or not per national/contract agreement
WRONG_DEBIT_CREDIT = "0631"  # debit/credit indicator wrong: a credit with nothing to take back
DEBIT_AND_IDENTICAL_CREDIT = "8062"  # a debit and an identical credit in one file
START_AFTER_INVOICE = "8177"  # service start date after the invoice date
END_AFTER_INVOICE = "8178"  # service end date after the invoice date

EMITTED_CODES: frozenset[str] = frozenset(
    {
        WRONG_UZOVI,
        WRONG_PERIOD_END,
        NOT_INSURED,
        INVALID_BSN,
        ALREADY_PAID,
        TARIFF,
        WRONG_DEBIT_CREDIT,
        DEBIT_AND_IDENTICAL_CREDIT,
        START_AFTER_INVOICE,
        END_AFTER_INVOICE,
    }
)
"""Every code :func:`simulate_return` can emit by itself (plus the code of a :class:`RandomRejection`)."""


def _code(code: str) -> str:
    """``code`` after checking it is in the shipped COD954 list (raises ``UnknownReturnCodeError`` if not)."""
    return return_code(code).code


@dataclass(frozen=True, slots=True)
class InsuredPeriod:
    """A period (both ends inclusive) in which a person is insured with this insurer; ``end=None`` is open."""

    start: date
    end: date | None = None

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"insured period ends ({self.end}) before it starts ({self.start})")

    def covers(self, start: date, end: date) -> bool:
        """True if the whole service period ``start``..``end`` lies inside this insured period."""
        return self.start <= start and (self.end is None or end <= self.end)


@dataclass(frozen=True, slots=True)
class PaidClaim:
    """A claim line the insurer already paid to the IGO (from an earlier file).

    A later debit for the same person, prestatie and service dates, or with the same ``line_id``, is a duplicate
    (0587). A credit can only take back a paid claim whose ``line_id`` is known; ``line_id=None`` records a
    payment the insurer knows by content only.
    """

    bsn: str
    prestatie_code: str
    service_start: date
    service_end: date
    line_id: str | None = None

    @property
    def key(self) -> tuple[str, str, date, date]:
        return (self.bsn, self.prestatie_code, self.service_start, self.service_end)


@dataclass(frozen=True, slots=True)
class MonodisciplinaryClaim:
    """A monodisciplinary claim by a provider outside the IGO that the insurer already paid.

    Bundelbreker: care by a non-member that breaks the integral claim (DOMAIN.md §3). An integral line of the
    same woman whose service period overlaps this claim's period is rejected with 0587. List only in-scope care
    here (a scan at an outside ultrasound centre, kraamzorg by a non-member organisation, a delivery in another
    hospital); out-of-scope care never breaks the bundle, and the insurer's overlap ban does not cover it.
    """

    bsn: str
    service_start: date
    service_end: date
    claimant_agb: str
    prestatie_code: str

    def __post_init__(self) -> None:
        if self.service_end < self.service_start:
            raise ValueError(f"monodisciplinary claim ends ({self.service_end}) before it starts")
        if not is_valid_agb(self.claimant_agb):
            raise ValueError(f"claimant AGB {self.claimant_agb!r} is not an 8-digit AGB code")

    def overlaps(self, start: date, end: date) -> bool:
        """True if the period ``start``..``end`` (inclusive) shares at least one day with this claim."""
        return self.service_start <= end and start <= self.service_end


@dataclass(frozen=True, slots=True)
class InsurerView:
    """What the simulated insurer knows when it assesses a claim file.

    - ``uzovi``: the insurer's own UZOVI code; a file addressed to another is refused (0018).
    - ``insured``: BSN → the periods the person is insured here; a BSN not in it is not insured (0320).
    - ``contract_tariffs``: integral prestatie code → tariff in cents per unit agreed in the contract with the
      IGO. Lines with these codes are the *integral* lines the bundle-breaker check looks at.
    - ``maximum_tariffs``: monodisciplinary prestatie code → NZa maximum tariff in cents per unit.
      A code in neither mapping has no tariff here (0611).
    - ``paid``: claim lines already paid to the IGO (duplicates: 0587; what credits may take back).
    - ``monodisciplinary_paid``: claims already paid to non-members (bundle breakers: 0587 on integral lines).
    - ``overlap_ban``: True while the ban on overlapping prestaties holds (the experiment's rule); False under a
      regular policy rule where overlap is settled in the contract (the rule set's ``settle_in_contract``),
      when monodisciplinary claims no longer reject integral lines (DOMAIN.md §3).

    The mappings are copied into read-only views, so changing the dict passed in does not change the view.
    """

    uzovi: str
    insured: Mapping[str, tuple[InsuredPeriod, ...]]
    contract_tariffs: Mapping[str, int]
    maximum_tariffs: Mapping[str, int] = field(default_factory=dict)
    paid: tuple[PaidClaim, ...] = ()
    monodisciplinary_paid: tuple[MonodisciplinaryClaim, ...] = ()
    overlap_ban: bool = True
    # Lookups built once, so assessing a national file is not lines × paid claims (positions into the tuples).
    _outside_by_bsn: Mapping[str, tuple[MonodisciplinaryClaim, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _paid_by_key: Mapping[tuple[str, str, date, date], tuple[int, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _paid_by_line_id: Mapping[str, tuple[int, ...]] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        if not is_valid_uzovi(self.uzovi):
            raise ValueError(f"{self.uzovi!r} is not a 4-digit UZOVI code")
        both = sorted(set(self.contract_tariffs) & set(self.maximum_tariffs))
        if both:
            raise ValueError(f"prestatie codes with a contract and a maximum tariff, which is meant? {both}")
        for code, cents in (*self.contract_tariffs.items(), *self.maximum_tariffs.items()):
            if cents < 0:
                raise ValueError(f"tariff of {code!r} is negative: {cents} cents")
        object.__setattr__(self, "insured", MappingProxyType({k: tuple(v) for k, v in self.insured.items()}))
        object.__setattr__(self, "contract_tariffs", MappingProxyType(dict(self.contract_tariffs)))
        object.__setattr__(self, "maximum_tariffs", MappingProxyType(dict(self.maximum_tariffs)))
        object.__setattr__(self, "paid", tuple(self.paid))
        object.__setattr__(self, "monodisciplinary_paid", tuple(self.monodisciplinary_paid))
        outside: dict[str, list[MonodisciplinaryClaim]] = defaultdict(list)
        for claim in self.monodisciplinary_paid:
            outside[claim.bsn].append(claim)
        by_key: dict[tuple[str, str, date, date], list[int]] = defaultdict(list)
        by_line_id: dict[str, list[int]] = defaultdict(list)
        for i, paid in enumerate(self.paid):
            by_key[paid.key].append(i)
            if paid.line_id is not None:
                by_line_id[paid.line_id].append(i)
        object.__setattr__(self, "_outside_by_bsn", {k: tuple(v) for k, v in outside.items()})
        object.__setattr__(self, "_paid_by_key", {k: tuple(v) for k, v in by_key.items()})
        object.__setattr__(self, "_paid_by_line_id", {k: tuple(v) for k, v in by_line_id.items()})

    def tariff(self, prestatie_code: str) -> int | None:
        """The tariff in cents per unit for ``prestatie_code``, or None if the insurer has none."""
        found = self.contract_tariffs.get(prestatie_code)
        return found if found is not None else self.maximum_tariffs.get(prestatie_code)

    def is_integral(self, prestatie_code: str) -> bool:
        """True for the integral prestaties of the IGO's contract."""
        return prestatie_code in self.contract_tariffs

    def is_insured(self, bsn: str, start: date, end: date) -> bool:
        """True if one insured period of ``bsn`` covers the whole service period."""
        return any(period.covers(start, end) for period in self.insured.get(bsn, ()))

    def breakers(self, bsn: str, start: date, end: date) -> tuple[MonodisciplinaryClaim, ...]:
        """The monodisciplinary claims by non-members for ``bsn`` that overlap ``start``..``end``."""
        return tuple(c for c in self._outside_by_bsn.get(bsn, ()) if c.overlaps(start, end))


@dataclass(frozen=True, slots=True)
class RandomRejection:
    """For demos: reject a ``share`` (0..1) of the lines that would be paid, with ``code``, drawn with ``seed``.

    The same seed, batch and view give the same return. Off unless passed to :func:`simulate_return`.
    The default code 0613 (not (fully) claimable under the insurance conditions) is one the IGO writes off.
    """

    share: float
    code: str = "0613"
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise ValueError(f"share must lie between 0 and 1, not {self.share}")
        _code(self.code)


def _content(line: ClaimBatchLine) -> tuple[object, ...]:
    """What makes a debit and a credit "identical" for 8062: everything but the direction and the line ids."""
    return (line.bsn, line.prestatie_code, line.service_start, line.service_end, line.quantity, line.amount_cents)


def _key(line: ClaimBatchLine) -> tuple[str, str, date, date]:
    return (line.bsn, line.prestatie_code, line.service_start, line.service_end)


def _not_assessed(line: ClaimBatchLine) -> ReturnLine:
    return ReturnLine(line=line, calculated_cents=0, awarded_cents=0)


def _mirrored_lines(lines: Iterable[ClaimBatchLine]) -> set[tuple[object, ...]]:
    """Contents that occur both as a debit and as a credit in the file (8062)."""
    debits = {_content(line) for line in lines if line.debit_credit is DebitCredit.DEBIT}
    credits = {_content(line) for line in lines if line.debit_credit is DebitCredit.CREDIT}
    return debits & credits


def _header_codes(batch: ClaimBatch, insurer: InsurerView) -> tuple[str, ...]:
    codes: list[str] = []
    if batch.receiver_uzovi != insurer.uzovi:
        codes.append(_code(WRONG_UZOVI))
    if batch.period_end < batch.period_start:
        codes.append(_code(WRONG_PERIOD_END))
    return tuple(codes)


class _Assessor:
    """The per-file state of one assessment: which paid claims are taken back, which keys were awarded."""

    def __init__(
        self, batch: ClaimBatch, insurer: InsurerView, draws: list[float], rejection: RandomRejection | None
    ) -> None:
        self.batch = batch
        self.insurer = insurer
        self.draws = draws
        self.rejection = rejection
        self.mirrored = _mirrored_lines(batch.lines)
        self.reversed: set[int] = set()  # indexes into insurer.paid taken back by a credit in this file
        self.awarded_keys: set[tuple[str, str, date, date]] = set()  # debits paid earlier in this file

    def assess(self, index: int, line: ClaimBatchLine) -> ReturnLine:
        tariff = self.insurer.tariff(line.prestatie_code)
        calculated = 0 if tariff is None else amount_for(line.quantity, tariff)
        if line.debit_credit is DebitCredit.CREDIT:
            calculated = -calculated

        def rejected(codes: tuple[str, ...] = (), insured_codes: tuple[str, ...] = ()) -> ReturnLine:
            return ReturnLine(
                line=line,
                calculated_cents=calculated,
                awarded_cents=0,
                return_codes=tuple(_code(c) for c in codes),
                insured_return_codes=tuple(_code(c) for c in insured_codes),
            )

        insured_codes = () if is_valid_bsn(line.bsn) else (INVALID_BSN,)
        form_codes: list[str] = []
        if line.service_start > self.batch.creation_date:
            form_codes.append(START_AFTER_INVOICE)
        if line.service_end > self.batch.creation_date:
            form_codes.append(END_AFTER_INVOICE)
        if _content(line) in self.mirrored:
            form_codes.append(DEBIT_AND_IDENTICAL_CREDIT)
        if insured_codes or form_codes:
            return rejected(tuple(form_codes), insured_codes)

        if not self.insurer.is_insured(line.bsn, line.service_start, line.service_end):
            return rejected(insured_codes=(NOT_INSURED,))

        if line.debit_credit is DebitCredit.CREDIT:
            original = self._paid_original(line)
            if original is None:
                return rejected((WRONG_DEBIT_CREDIT,))
            if demo_code := self._random_rejection_code(index):
                return rejected((demo_code,))
            self.reversed.add(original)
            return ReturnLine(line=line, calculated_cents=calculated, awarded_cents=line.signed_cents)

        if tariff is None:
            return rejected((TARIFF,))
        if self._already_paid(line) or self._breaks_bundle(line):
            return rejected((ALREADY_PAID,))
        if demo_code := self._random_rejection_code(index):
            return rejected((demo_code,))
        if line.amount_cents > calculated:
            if calculated == 0:  # nothing left to pay (e.g. quantity 0): a rejection, not a partial award
                return rejected((TARIFF,))
            self.awarded_keys.add(_key(line))
            return ReturnLine(
                line=line, calculated_cents=calculated, awarded_cents=calculated, return_codes=(_code(TARIFF),)
            )
        self.awarded_keys.add(_key(line))
        return ReturnLine(line=line, calculated_cents=calculated, awarded_cents=line.signed_cents)

    def _paid_original(self, credit: ClaimBatchLine) -> int | None:
        """Index of the paid claim this credit takes back, if it names one not yet taken back in this file."""
        if credit.original_line_id is None:
            return None
        for i in self.insurer._paid_by_line_id.get(credit.original_line_id, ()):
            if i not in self.reversed and self.insurer.paid[i].key == _key(credit):
                return i
        return None

    def _already_paid(self, debit: ClaimBatchLine) -> bool:
        if _key(debit) in self.awarded_keys:
            return True
        candidates = (
            *self.insurer._paid_by_key.get(_key(debit), ()),
            *self.insurer._paid_by_line_id.get(debit.line_id, ()),
        )
        return any(i not in self.reversed for i in candidates)

    def _breaks_bundle(self, debit: ClaimBatchLine) -> bool:
        if not self.insurer.overlap_ban or not self.insurer.is_integral(debit.prestatie_code):
            return False
        return bool(self.insurer.breakers(debit.bsn, debit.service_start, debit.service_end))

    def _random_rejection_code(self, index: int) -> str | None:
        """The demo rejection's code if line ``index`` falls in the rejected share, else None."""
        if self.rejection is not None and self.draws[index] < self.rejection.share:
            return self.rejection.code
        return None


def simulate_return(
    batch: ClaimBatch,
    insurer: InsurerView,
    *,
    return_date: date,
    reference: str,
    random_rejection: RandomRejection | None = None,
) -> ReturnBatch:
    """The return file ``insurer`` sends for ``batch``: one :class:`ReturnLine` per claim line, in file order.

    ``return_date`` is the date of the return message, ``reference`` the insurer's reference for it (at most 24
    ASCII characters to fit the KZ302 field). The assessment and the codes are described in the module
    docstring. ``random_rejection`` (off by default) rejects a seeded share of the lines that would be paid, for
    demos. Raises ``ValueError`` when the insurer would answer before the file was made.
    """
    if return_date < batch.creation_date:
        raise ValueError(f"return date {return_date} is before the file's creation date {batch.creation_date}")
    header_codes = _header_codes(batch, insurer)
    if header_codes:
        returned = tuple(_not_assessed(line) for line in batch.lines)
    else:
        draws: list[float] = []
        if random_rejection is not None:
            # One draw per line in file order, whatever the verdicts, so a seed means the same for any view.
            rng = random.Random(random_rejection.seed)
            draws = [rng.random() for _ in batch.lines]
        assessor = _Assessor(batch, insurer, draws, random_rejection)
        by_index: dict[int, ReturnLine] = {}
        # Credits first: an insurer books the reversal before it judges the replacement (see module docstring).
        order = sorted(range(len(batch.lines)), key=lambda i: batch.lines[i].debit_credit is DebitCredit.DEBIT)
        for i in order:
            by_index[i] = assessor.assess(i, batch.lines[i])
        returned = tuple(by_index[i] for i in range(len(batch.lines)))
    return ReturnBatch(
        sender_agb=batch.sender_agb,
        receiver_uzovi=batch.receiver_uzovi,
        batch_id=batch.batch_id,
        creation_date=batch.creation_date,
        period_start=batch.period_start,
        period_end=batch.period_end,
        insurer_reference=reference,
        return_date=return_date,
        header_return_codes=header_codes,
        lines=returned,
    )
