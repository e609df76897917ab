"""Helpers shared by several models: names of phases and disciplines, and the 'within a discipline' split."""

from __future__ import annotations

from decimal import Decimal

from integraal.distribution.allocation import fixed_point
from integraal.distribution.inputs import DistributionInput
from integraal.domain.phase import Phase
from integraal.domain.provider import Discipline

PHASE_NL = {Phase.PRENATAL: "prenatale fase", Phase.NATAL: "natale fase", Phase.POSTNATAL: "postnatale fase"}
PHASE_EN = {Phase.PRENATAL: "prenatal phase", Phase.NATAL: "natal phase", Phase.POSTNATAL: "postnatal phase"}

DISCIPLINE_NL = {
    Discipline.MIDWIFE: "verloskundigen",
    Discipline.HOSPITAL: "ziekenhuis",
    Discipline.GYNAECOLOGIST: "gynaecologen",
    Discipline.KRAAMZORG: "kraamzorg",
    Discipline.ULTRASOUND: "echocentra",
    Discipline.LAB: "laboratorium",
    Discipline.GP: "huisartsen",
    Discipline.PAEDIATRICS: "kindergeneeskunde",
}
DISCIPLINE_EN = {
    Discipline.MIDWIFE: "midwives",
    Discipline.HOSPITAL: "hospital",
    Discipline.GYNAECOLOGIST: "gynaecologists",
    Discipline.KRAAMZORG: "maternity care",
    Discipline.ULTRASOUND: "ultrasound",
    Discipline.LAB: "lab",
    Discipline.GP: "GPs",
    Discipline.PAEDIATRICS: "paediatrics",
}

WITHIN_CHOICES = ("claims", "activities", "equal")
WITHIN_NL = {"claims": "schaduwdeclaraties", "activities": "aantal activiteiten", "equal": "gelijke delen"}
WITHIN_EN = {"claims": "shadow claims", "activities": "activity counts", "equal": "equal parts"}


def within_discipline_weights(
    data: DistributionInput, discipline: Discipline, within: str, phase: Phase | None
) -> dict[str, int]:
    """Integer weights of the members of ``discipline`` for dividing that discipline's money.

    ``claims``: their integral shadow claims (in ``phase``; the whole period if the phase has none);
    ``activities``: their activity counts (in millionths); ``equal``: one each.
    """
    agbs = [m.agb for m in data.members if m.discipline is discipline]
    if within == "equal":
        return dict.fromkeys(agbs, 1)
    if within == "activities":
        counts = data.activity_by_member()
        return {agb: fixed_point(sum(counts[agb].values(), Decimal(0))) for agb in agbs}
    by_phase = data.shadow_by_member(phase)
    weights = {agb: by_phase[agb] for agb in agbs}
    if sum(weights.values()) == 0 and phase is not None:
        whole = data.shadow_by_member()
        weights = {agb: whole[agb] for agb in agbs}
    return weights
