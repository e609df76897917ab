"""The bundle decision engine: ``decide_bundle(pregnancy, activities, context, as_of)``.

For every phase of a trajectory it decides *integral* (the IGO claims the integral prestatie), *fallback*
(members claim separately: a bundle breaker, no contract, a partial trajectory under a fallback contract),
*incomplete* (not finished or nothing claimable yet) or *not applicable* (the trajectory ended before the
phase). Every rule lives in a small function below, in the order DOMAIN.md §3 gives them; every outcome
carries reason codes; every activity ends up claimed, excluded or reported — never silently dropped.

The engine is pure: the same inputs give the same decision, whatever the order of the activities.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from integraal.domain.activity import Activity
from integraal.domain.catalogue import PHASE_MONO, ActivityType, Catalogue, IntegralPrestatie, RuleSet
from integraal.domain.contract import Contract, ContractBook, OverlapPolicy, PartialPolicy
from integraal.domain.igo import Igo, MembershipRegister
from integraal.domain.money import amount_for
from integraal.domain.phase import PHASES, Phase, PhaseWindow
from integraal.domain.pregnancy import (
    NO_BIRTH_ENDINGS,
    PARTIAL_ENDINGS,
    EndReason,
    Pregnancy,
    ReferralStage,
)
from integraal.domain.provider import PRIMARY_CARE, SECONDARY_CARE, Discipline, Provider
from integraal.rules.decision import (
    ActivityOutcome,
    ClaimKind,
    ClaimLine,
    Disposition,
    Outcome,
    PhaseDecision,
    PregnancyDecision,
    Reason,
)
from integraal.rules.reasons import ReasonCode

INTEGRAL_CONDITIONS = frozenset({"always", "birth", "no_birth", "primary_only", "secondary"})
"""The condition keywords an integral prestatie may use in the catalogue."""


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """Everything besides the pregnancy itself that a decision depends on."""

    catalogue: Catalogue
    providers: Mapping[str, Provider]
    igos: Mapping[str, Igo]
    memberships: MembershipRegister
    contracts: ContractBook
    reported_overlaps: Mapping[tuple[str, Phase], tuple[ReportedOverlap, ...]] = field(default_factory=dict)
    """Collisions the insurer reported (return code 0587) per (pregnancy, phase): care outside our registration."""


@dataclass(frozen=True, slots=True)
class ReportedOverlap:
    """An insurer's word that care of this phase was already claimed or paid, also to another provider.

    The insurer sees claims we never see (a scan at an outside centre claimed directly): its return code 0587 is
    a bundle breaker as real as a registered non-member activity, so the phase falls back (DOMAIN.md §3).
    """

    line_id: str
    return_code: str


@dataclass(slots=True)
class _Placed:
    """An in-scope activity placed in a phase, with its type and whether its provider was a member."""

    activity: Activity
    type: ActivityType
    discipline: Discipline | None
    member: bool


@dataclass(slots=True)
class _PhaseWork:
    placed: list[_Placed] = field(default_factory=list)


def decide_bundle(
    pregnancy: Pregnancy, activities: Iterable[Activity], context: DecisionContext, as_of: date
) -> PregnancyDecision:
    """Decide every phase of ``pregnancy`` from its ``activities`` as known on ``as_of``."""
    ordered = sorted(activities, key=lambda a: (a.day, a.activity_id))
    outcomes: dict[str, ActivityOutcome] = {}
    trajectory_rules = context.catalogue.for_year(pregnancy.intake_date.year)
    if trajectory_rules is None:
        return _no_ruleset(pregnancy, ordered, as_of)

    work = {phase: _PhaseWork() for phase in PHASES}
    windows = {
        phase: pregnancy.window(phase, trajectory_rules.postnatal_days, trajectory_rules.aftercare_days)
        for phase in PHASES
    }
    for activity in ordered:
        placed_phase = _place(activity, pregnancy, windows, trajectory_rules, context, outcomes)
        if placed_phase is not None:
            work[placed_phase[0]].placed.append(placed_phase[1])

    phase_decisions = tuple(
        _decide_phase(phase, pregnancy, windows[phase], work[phase].placed, context, as_of, outcomes)
        for phase in PHASES
    )
    return PregnancyDecision(
        pregnancy_id=pregnancy.pregnancy_id,
        as_of=as_of,
        phases=phase_decisions,
        activities=tuple(outcomes[k] for k in sorted(outcomes)),
    )


# --- placing activities --------------------------------------------------------------------------------


def _place(
    activity: Activity,
    pregnancy: Pregnancy,
    windows: Mapping[Phase, PhaseWindow | None],
    rules: RuleSet,
    context: DecisionContext,
    outcomes: dict[str, ActivityOutcome],
) -> tuple[Phase, _Placed] | None:
    """Classify one activity: out of scope, a data problem, outside the trajectory, or placed in a phase."""

    def settle(disposition: Disposition, reason: ReasonCode, phase: Phase | None = None) -> None:
        outcomes[activity.activity_id] = ActivityOutcome(activity.activity_id, disposition, reason, phase)

    if activity.bsn != pregnancy.bsn:
        settle(Disposition.REPORTED, ReasonCode.BSN_MISMATCH)
        return None
    activity_type = rules.activity_types.get(activity.code)
    if activity_type is None:
        settle(Disposition.REPORTED, ReasonCode.UNKNOWN_ACTIVITY_CODE)
        return None
    phase = _phase_of(activity.day, activity_type, windows)
    if not activity_type.in_scope:
        # Out-of-scope care never breaks the bundle (DOMAIN.md §3).
        settle(Disposition.EXCLUDED, ReasonCode.OUT_OF_SCOPE, phase)
        return None
    provider = context.providers.get(activity.agb)
    discipline = provider.discipline if provider is not None else None
    if discipline is not None and discipline not in activity_type.disciplines:
        settle(Disposition.REPORTED, ReasonCode.DISCIPLINE_MISMATCH, phase)
        return None
    if phase is None:
        settle(Disposition.REPORTED, ReasonCode.OUTSIDE_TRAJECTORY)
        return None
    member = context.memberships.is_member(pregnancy.igo_id, activity.agb, activity.day)
    return phase, _Placed(activity, activity_type, discipline, member)


def _phase_of(day: date, activity_type: ActivityType, windows: Mapping[Phase, PhaseWindow | None]) -> Phase | None:
    """The phase an activity on ``day`` belongs to.

    A type with a fixed phase (a birth is natal) belongs there if the date fits the phase's window. Other
    types follow the date; on the boundary days labour wins (the start of labour ends the prenatal phase and
    the birth day belongs to the natal phase).
    """
    if activity_type.phase is not None:
        window = windows[activity_type.phase]
        return activity_type.phase if window is not None and window.contains(day) else None
    for phase in (Phase.NATAL, Phase.PRENATAL, Phase.POSTNATAL):
        window = windows[phase]
        if window is not None and window.contains(day):
            return phase
    return None


# --- deciding a phase ----------------------------------------------------------------------------------


def _decide_phase(
    phase: Phase,
    pregnancy: Pregnancy,
    window: PhaseWindow | None,
    placed: Sequence[_Placed],
    context: DecisionContext,
    as_of: date,
    outcomes: dict[str, ActivityOutcome],
) -> PhaseDecision:
    def pend(reason: ReasonCode) -> None:
        for p in placed:
            outcomes[p.activity.activity_id] = ActivityOutcome(
                p.activity.activity_id, Disposition.REPORTED, reason, phase
            )

    if window is None:
        if pregnancy.ongoing:
            return PhaseDecision(phase, Outcome.INCOMPLETE, (Reason(ReasonCode.TRAJECTORY_ONGOING),))
        end = pregnancy.end_reason.value if pregnancy.end_reason else ""
        return PhaseDecision(
            phase, Outcome.NOT_APPLICABLE, (Reason(ReasonCode.PHASE_NOT_REACHED, (("end_reason", end),)),)
        )
    rules = context.catalogue.for_year(window.start.year)
    if rules is None:
        pend(ReasonCode.NO_RULESET)
        return PhaseDecision(
            phase, Outcome.INCOMPLETE, (Reason(ReasonCode.NO_RULESET, (("year", str(window.start.year)),)),)
        )
    if window.end is None:
        pend(ReasonCode.PENDING)
        return PhaseDecision(
            phase, Outcome.INCOMPLETE, (Reason(ReasonCode.TRAJECTORY_ONGOING),), ruleset_version=rules.version
        )
    if not placed:
        return PhaseDecision(
            phase, Outcome.INCOMPLETE, (Reason(ReasonCode.NO_CARE_IN_PHASE),), ruleset_version=rules.version
        )

    members = [p for p in placed if p.member]
    outsiders = [p for p in placed if not p.member]
    contract = context.contracts.find(pregnancy.igo_id, pregnancy.uzovi, rules.year)
    overlap_policy = (contract.overlap_policy if contract else None) or rules.overlap_policy
    partial_policy = (contract.partial_policy if contract else None) or rules.partial_policy
    prestatie = _select_integral(rules, phase, pregnancy, placed)
    declaration_date = window.end + timedelta(days=prestatie.declaration_days if prestatie else 0)

    if declaration_date > as_of:
        pend(ReasonCode.PENDING)
        params = (("as_of", as_of.isoformat()), ("declaration_date", declaration_date.isoformat()))
        return PhaseDecision(
            phase,
            Outcome.INCOMPLETE,
            (Reason(ReasonCode.PHASE_NOT_ENDED, params),),
            ruleset_version=rules.version,
            contract_id=contract.contract_id if contract else None,
        )

    breaking: list[Reason] = []  # reasons that force a fallback
    informing: list[Reason] = []  # reasons that explain an integral claim
    outsider_reasons = _outsider_reasons(pregnancy, outsiders, context)
    if outsiders and (overlap_policy is OverlapPolicy.BREAK_BUNDLE or not members):
        breaking.extend(outsider_reasons)
    else:
        informing.extend(
            Reason(ReasonCode.NON_MEMBER_OVERLAP_SETTLED, r.params, r.activity_ids) for r in outsider_reasons
        )
    breaking.extend(
        Reason(ReasonCode.INSURER_REPORTED_OVERLAP, (("line_id", r.line_id), ("code", r.return_code)))
        for r in context.reported_overlaps.get((pregnancy.pregnancy_id, phase), ())
    )
    breaking.extend(_ending_reasons(pregnancy, partial_policy, informing))
    if contract is None:
        breaking.append(
            Reason(
                ReasonCode.CONTRACT_MISSING,
                (("igo", pregnancy.igo_id), ("uzovi", pregnancy.uzovi), ("year", str(rules.year))),
            )
        )
    elif prestatie is None:
        breaking.append(Reason(ReasonCode.NO_INTEGRAL_PRESTATIE))
    elif prestatie.code not in contract.tariffs:
        breaking.append(
            Reason(
                ReasonCode.PRESTATIE_NOT_CONTRACTED,
                (("prestatie", prestatie.code), ("uzovi", pregnancy.uzovi), ("year", str(rules.year))),
            )
        )

    for p in outsiders:
        outcomes[p.activity.activity_id] = ActivityOutcome(
            p.activity.activity_id, Disposition.REPORTED, ReasonCode.CLAIMED_BY_NON_MEMBER, phase
        )
    contract_id = contract.contract_id if contract else None
    if breaking:
        lines = _mono_lines(phase, pregnancy, window, members, rules, contract, declaration_date, outcomes)
        return PhaseDecision(phase, Outcome.FALLBACK, tuple(breaking + informing), lines, rules.version, contract_id)

    assert contract is not None and prestatie is not None  # guaranteed: otherwise ``breaking`` is set
    igo = context.igos.get(pregnancy.igo_id)
    tariff = contract.tariffs[prestatie.code]
    member_ids = tuple(p.activity.activity_id for p in members)
    line = ClaimLine(
        pregnancy_id=pregnancy.pregnancy_id,
        phase=phase,
        kind=ClaimKind.INTEGRAL,
        prestatie_code=prestatie.code,
        claimant_agb=igo.agb if igo else "",
        uzovi=pregnancy.uzovi,
        quantity=Decimal(1),
        tariff_cents=tariff,
        amount_cents=tariff,
        service_start=window.start,
        service_end=window.end,
        declaration_date=declaration_date,
        activity_ids=member_ids,
        tariff_source="contract",
    )
    for p in members:
        outcomes[p.activity.activity_id] = ActivityOutcome(
            p.activity.activity_id, Disposition.CLAIMED, None, phase, prestatie.code
        )
    first = [] if outsiders else [Reason(ReasonCode.ALL_CARE_BY_MEMBERS, activity_ids=member_ids)]
    return PhaseDecision(phase, Outcome.INTEGRAL, tuple(first + informing), (line,), rules.version, contract_id)


def _select_integral(
    rules: RuleSet, phase: Phase, pregnancy: Pregnancy, placed: Sequence[_Placed]
) -> IntegralPrestatie | None:
    """The integral prestatie of the phase whose condition holds, lowest priority number first."""
    secondary = any(p.discipline in SECONDARY_CARE for p in placed)
    for candidate in rules.integral_candidates(phase):
        if _condition_holds(candidate.condition, pregnancy, secondary):
            return candidate
    return None


def _condition_holds(condition: str, pregnancy: Pregnancy, secondary: bool) -> bool:
    if condition == "always":
        return True
    if condition == "birth":
        return pregnancy.end_reason is EndReason.BIRTH
    if condition == "no_birth":
        return pregnancy.end_reason in NO_BIRTH_ENDINGS
    if condition == "primary_only":
        return not secondary
    if condition == "secondary":
        return secondary
    raise ValueError(f"unknown integral prestatie condition {condition!r}")


def _outsider_reasons(pregnancy: Pregnancy, outsiders: Sequence[_Placed], context: DecisionContext) -> list[Reason]:
    """One reason per non-member provider, naming it and its activities (the bundle breakers)."""
    by_agb: dict[str, list[_Placed]] = {}
    for p in outsiders:
        by_agb.setdefault(p.activity.agb, []).append(p)
    reasons = []
    for agb in sorted(by_agb):
        group = by_agb[agb]
        provider = context.providers.get(agb)
        name = provider.name if provider else "onbekend/unknown"
        ids = tuple(p.activity.activity_id for p in group)
        periods = context.memberships.periods(pregnancy.igo_id, agb)
        if periods:
            dates = ", ".join(sorted({p.activity.day.isoformat() for p in group}))
            spans = ", ".join(f"{p.start.isoformat()}..{p.end.isoformat() if p.end else ''}" for p in periods)
            params = (("agb", agb), ("name", name), ("dates", dates), ("periods", spans))
            reasons.append(Reason(ReasonCode.MEMBERSHIP_NOT_ACTIVE, params, ids))
        else:
            reasons.append(Reason(ReasonCode.NON_MEMBER_CARE, (("agb", agb), ("name", name)), ids))
    return reasons


def _ending_reasons(pregnancy: Pregnancy, policy: PartialPolicy, informing: list[Reason]) -> list[Reason]:
    """Reasons from how the trajectory ended; returns the breaking ones, appends the informing ones."""
    end = pregnancy.end_reason
    if end is EndReason.MISCARRIAGE:
        informing.append(Reason(ReasonCode.ENDED_MISCARRIAGE))
    elif end is EndReason.TERMINATION:
        informing.append(Reason(ReasonCode.ENDED_TERMINATION))
    elif end in PARTIAL_ENDINGS:
        params = (("end_reason", end.value if end else ""),)
        if policy is PartialPolicy.FALLBACK:
            return [Reason(ReasonCode.PARTIAL_TRAJECTORY_FALLBACK, params)]
        informing.append(Reason(ReasonCode.PARTIAL_TRAJECTORY_INTEGRAL, params))
    return []


# --- fallback: the monodisciplinary lines members would send ------------------------------------------


def _completed(phase: Phase, discipline: Discipline, pregnancy: Pregnancy) -> bool:
    """Did this provider's care run to the end of the phase? Drives the choice of partial prestaties."""
    if phase is Phase.POSTNATAL:
        return True
    if pregnancy.end_reason is not EndReason.BIRTH:
        return False
    if discipline not in PRIMARY_CARE or pregnancy.referral_stage is None:
        return True
    if phase is Phase.PRENATAL:
        return pregnancy.referral_stage is ReferralStage.LABOUR
    return pregnancy.referral_stage is not ReferralStage.LABOUR


def _mono_lines(
    phase: Phase,
    pregnancy: Pregnancy,
    window: PhaseWindow,
    members: Sequence[_Placed],
    rules: RuleSet,
    contract: Contract | None,
    declaration_date: date,
    outcomes: dict[str, ActivityOutcome],
) -> tuple[ClaimLine, ...]:
    """Per member: one per-phase (possibly partial) prestatie, plus a line per activity or hour."""
    lines: list[ClaimLine] = []
    by_provider: dict[str, list[_Placed]] = {}
    for p in members:
        by_provider.setdefault(p.activity.agb, []).append(p)

    def claim(prestatie_code: str, tariff: int, source: str, quantity: Decimal, group: Sequence[_Placed]) -> None:
        ids = tuple(p.activity.activity_id for p in group)
        lines.append(
            ClaimLine(
                pregnancy_id=pregnancy.pregnancy_id,
                phase=phase,
                kind=ClaimKind.MONO,
                prestatie_code=prestatie_code,
                claimant_agb=group[0].activity.agb,
                uzovi=pregnancy.uzovi,
                quantity=quantity,
                tariff_cents=tariff,
                amount_cents=amount_for(quantity, tariff),
                service_start=group[0].activity.day,
                service_end=group[-1].activity.day,
                declaration_date=declaration_date,
                activity_ids=ids,
                tariff_source=source,
            )
        )
        for p in group:
            outcomes[p.activity.activity_id] = ActivityOutcome(
                p.activity.activity_id, Disposition.CLAIMED, None, phase, prestatie_code
            )

    def unpriced(group: Sequence[_Placed]) -> None:
        for p in group:
            outcomes[p.activity.activity_id] = ActivityOutcome(
                p.activity.activity_id, Disposition.REPORTED, ReasonCode.NO_MONO_TARIFF, phase
            )

    for agb in sorted(by_provider):
        group = by_provider[agb]
        discipline = group[0].discipline
        if discipline is None:  # a member always has a provider record; be safe with bad data
            unpriced(group)
            continue
        phase_group = []
        for p in group:
            mono_code = _mono_code(p, rules)
            if mono_code == PHASE_MONO:
                phase_group.append(p)
                continue
            mono = rules.mono(mono_code, discipline) if mono_code else None
            if mono is None:
                unpriced([p])
                continue
            tariff, source = _tariff(mono.code, mono.tariff_cents, mono.estimated, contract)
            claim(mono.code, tariff, source, p.activity.quantity, [p])
        if phase_group:
            start_week = pregnancy.gestational_week(phase_group[0].activity.day)
            end_week = pregnancy.gestational_week(phase_group[-1].activity.day)
            completed = _completed(phase, discipline, pregnancy)
            mono = rules.phase_prestatie(discipline, phase, start_week, end_week, completed)
            if mono is None:
                unpriced(phase_group)
                continue
            tariff, source = _tariff(mono.code, mono.tariff_cents, mono.estimated, contract)
            claim(mono.code, tariff, source, Decimal(1), phase_group)
    lines.sort(key=lambda line: (line.claimant_agb, line.service_start, line.prestatie_code, line.activity_ids))
    return tuple(lines)


def _mono_code(placed: _Placed, rules: RuleSet) -> str:
    """How the phase's rule set says this activity is claimed on its own (type may differ per year)."""
    current = rules.activity_types.get(placed.type.code)
    return (current or placed.type).mono


def _tariff(code: str, nza_cents: int, estimated: bool, contract: Contract | None) -> tuple[int, str]:
    if contract is not None and code in contract.tariffs:
        return contract.tariffs[code], "contract"
    return nza_cents, "estimate" if estimated else "nza"


def _no_ruleset(pregnancy: Pregnancy, ordered: Sequence[Activity], as_of: date) -> PregnancyDecision:
    reason = Reason(ReasonCode.NO_RULESET, (("year", str(pregnancy.intake_date.year)),))
    return PregnancyDecision(
        pregnancy.pregnancy_id,
        as_of,
        tuple(PhaseDecision(phase, Outcome.INCOMPLETE, (reason,)) for phase in PHASES),
        tuple(
            ActivityOutcome(a.activity_id, Disposition.REPORTED, ReasonCode.NO_RULESET)
            for a in sorted(ordered, key=lambda a: a.activity_id)
        ),
    )
