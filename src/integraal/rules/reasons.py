"""Reason codes: the one table that explains every decision, in Dutch and English.

A reason is data (a code plus parameters and the activities it is about); the sentence is rendered from this
table, so the API can return codes and the UI can show sentences in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReasonCode(StrEnum):
    # Phase-level outcomes
    ALL_CARE_BY_MEMBERS = "ALL_CARE_BY_MEMBERS"
    NON_MEMBER_CARE = "NON_MEMBER_CARE"
    MEMBERSHIP_NOT_ACTIVE = "MEMBERSHIP_NOT_ACTIVE"
    NON_MEMBER_OVERLAP_SETTLED = "NON_MEMBER_OVERLAP_SETTLED"
    INSURER_REPORTED_OVERLAP = "INSURER_REPORTED_OVERLAP"
    CONTRACT_MISSING = "CONTRACT_MISSING"
    PRESTATIE_NOT_CONTRACTED = "PRESTATIE_NOT_CONTRACTED"
    NO_INTEGRAL_PRESTATIE = "NO_INTEGRAL_PRESTATIE"
    NO_RULESET = "NO_RULESET"
    TRAJECTORY_ONGOING = "TRAJECTORY_ONGOING"
    PHASE_NOT_ENDED = "PHASE_NOT_ENDED"
    PHASE_NOT_REACHED = "PHASE_NOT_REACHED"
    NO_CARE_IN_PHASE = "NO_CARE_IN_PHASE"
    ENDED_MISCARRIAGE = "ENDED_MISCARRIAGE"
    ENDED_TERMINATION = "ENDED_TERMINATION"
    PARTIAL_TRAJECTORY_FALLBACK = "PARTIAL_TRAJECTORY_FALLBACK"
    PARTIAL_TRAJECTORY_INTEGRAL = "PARTIAL_TRAJECTORY_INTEGRAL"
    # Activity-level
    OUT_OF_SCOPE = "OUT_OF_SCOPE"
    OUTSIDE_TRAJECTORY = "OUTSIDE_TRAJECTORY"
    NO_TRAJECTORY = "NO_TRAJECTORY"
    BSN_MISMATCH = "BSN_MISMATCH"
    UNKNOWN_ACTIVITY_CODE = "UNKNOWN_ACTIVITY_CODE"
    DISCIPLINE_MISMATCH = "DISCIPLINE_MISMATCH"
    NO_MONO_TARIFF = "NO_MONO_TARIFF"
    CLAIMED_BY_NON_MEMBER = "CLAIMED_BY_NON_MEMBER"
    PENDING = "PENDING"


@dataclass(frozen=True, slots=True)
class ReasonText:
    nl: str
    en: str
    outcome_effect: str  # what it does: integral, fallback, incomplete, not_applicable, excluded, reported


REASONS: dict[ReasonCode, ReasonText] = {
    ReasonCode.ALL_CARE_BY_MEMBERS: ReasonText(
        "Alle zorg binnen de integrale prestatie is geleverd door leden van de IGO.",
        "All care within the integral prestatie was given by members of the IGO.",
        "integral",
    ),
    ReasonCode.NON_MEMBER_CARE: ReasonText(
        "Zorgaanbieder {agb} ({name}) is geen lid van de IGO en leverde zorg in deze fase: de bundel is "
        "gebroken (bundelbreker).",
        "Provider {agb} ({name}) is not a member of the IGO and gave care in this phase: the bundle is "
        "broken (bundle breaker).",
        "fallback",
    ),
    ReasonCode.MEMBERSHIP_NOT_ACTIVE: ReasonText(
        "Zorgaanbieder {agb} ({name}) was op {dates} geen lid van de IGO (lidmaatschap {periods}): de bundel "
        "is gebroken.",
        "Provider {agb} ({name}) was not a member of the IGO on {dates} (membership {periods}): the bundle is broken.",
        "fallback",
    ),
    ReasonCode.NON_MEMBER_OVERLAP_SETTLED: ReasonText(
        "Zorg door niet-lid {agb} ({name}) overlapt met de integrale prestatie; dit wordt volgens het "
        "contract verrekend.",
        "Care by non-member {agb} ({name}) overlaps the integral prestatie; it is settled under the contract.",
        "integral",
    ),
    ReasonCode.INSURER_REPORTED_OVERLAP: ReasonText(
        "De zorgverzekeraar wees declaratieregel {line_id} af met retourcode {code}: deze zorg is al (ook aan een "
        "andere zorgaanbieder) gedeclareerd of betaald. Er is een bundelbreker buiten onze registratie: de leden "
        "declareren los.",
        "The insurer rejected claim line {line_id} with return code {code}: this care was already claimed or paid "
        "(also to another provider). A bundle breaker outside our registration: the members claim separately.",
        "fallback",
    ),
    ReasonCode.CONTRACT_MISSING: ReasonText(
        "Er is geen contract tussen IGO {igo} en zorgverzekeraar {uzovi} voor {year}: de leden declareren zelf.",
        "There is no contract between IGO {igo} and insurer {uzovi} for {year}: members claim separately.",
        "fallback",
    ),
    ReasonCode.PRESTATIE_NOT_CONTRACTED: ReasonText(
        "Prestatie {prestatie} is niet gecontracteerd met zorgverzekeraar {uzovi} voor {year}.",
        "Prestatie {prestatie} is not contracted with insurer {uzovi} for {year}.",
        "fallback",
    ),
    ReasonCode.NO_INTEGRAL_PRESTATIE: ReasonText(
        "Geen integrale prestatie in de regelset past bij deze fase.",
        "No integral prestatie of the rule set fits this phase.",
        "fallback",
    ),
    ReasonCode.NO_RULESET: ReasonText(
        "Er is geen regelset (NZa-beleidsregel en tarieven) voor {year}.",
        "There is no rule set (NZa policy rule and tariffs) for {year}.",
        "incomplete",
    ),
    ReasonCode.TRAJECTORY_ONGOING: ReasonText(
        "Het zorgtraject loopt nog: deze fase is nog niet afgerond.",
        "The care trajectory is still running: this phase has not ended yet.",
        "incomplete",
    ),
    ReasonCode.PHASE_NOT_ENDED: ReasonText(
        "De fase is op {as_of} nog niet declarabel (declaratiedatum {declaration_date}).",
        "The phase is not claimable yet on {as_of} (declaration date {declaration_date}).",
        "incomplete",
    ),
    ReasonCode.PHASE_NOT_REACHED: ReasonText(
        "Het traject eindigde ({end_reason}) voordat deze fase begon.",
        "The trajectory ended ({end_reason}) before this phase began.",
        "not_applicable",
    ),
    ReasonCode.NO_CARE_IN_PHASE: ReasonText(
        "Er is in deze fase geen zorg binnen de integrale geboortezorg geregistreerd: nog niets te declareren.",
        "No care within integral birth care is registered in this phase: nothing to claim yet.",
        "incomplete",
    ),
    ReasonCode.ENDED_MISCARRIAGE: ReasonText(
        "De zwangerschap eindigde in een miskraam; de zorg en nazorg vallen onder de prenatale prestatie.",
        "The pregnancy ended in a miscarriage; care and aftercare fall under the prenatal prestatie.",
        "integral",
    ),
    ReasonCode.ENDED_TERMINATION: ReasonText(
        "De zwangerschap werd afgebroken; de geleverde zorg valt onder de prenatale prestatie.",
        "The pregnancy was terminated; the care given falls under the prenatal prestatie.",
        "integral",
    ),
    ReasonCode.PARTIAL_TRAJECTORY_FALLBACK: ReasonText(
        "Het traject eindigde voortijdig ({end_reason}); volgens het contract declareren de leden de geleverde "
        "zorg zelf.",
        "The trajectory ended early ({end_reason}); under the contract members claim the care they gave.",
        "fallback",
    ),
    ReasonCode.PARTIAL_TRAJECTORY_INTEGRAL: ReasonText(
        "Het traject eindigde voortijdig ({end_reason}); volgens het contract declareert de IGO de integrale "
        "prestatie.",
        "The trajectory ended early ({end_reason}); under the contract the IGO claims the integral prestatie.",
        "integral",
    ),
    ReasonCode.OUT_OF_SCOPE: ReasonText(
        "Valt buiten de integrale geboortezorg ({note}); breekt de bundel niet.",
        "Outside integral birth care ({note}); does not break the bundle.",
        "excluded",
    ),
    ReasonCode.OUTSIDE_TRAJECTORY: ReasonText(
        "De datum ligt buiten het zorgtraject (intake tot einde kraamperiode).",
        "The date lies outside the care trajectory (intake to end of the postnatal period).",
        "reported",
    ),
    ReasonCode.NO_TRAJECTORY: ReasonText(
        "Geen zorgtraject gevonden voor deze cliënt op deze datum.",
        "No care trajectory found for this client on this date.",
        "reported",
    ),
    ReasonCode.BSN_MISMATCH: ReasonText(
        "Het BSN van de activiteit hoort niet bij het genoemde zorgtraject.",
        "The activity's BSN does not belong to the trajectory it names.",
        "reported",
    ),
    ReasonCode.UNKNOWN_ACTIVITY_CODE: ReasonText(
        "Activiteitcode {code} komt niet voor in de catalogus van {year}.",
        "Activity code {code} is not in the {year} catalogue.",
        "reported",
    ),
    ReasonCode.DISCIPLINE_MISMATCH: ReasonText(
        "Een zorgaanbieder van soort {discipline} kan activiteit {code} niet leveren.",
        "A provider of kind {discipline} cannot deliver activity {code}.",
        "reported",
    ),
    ReasonCode.NO_MONO_TARIFF: ReasonText(
        "Geen monodisciplinaire prestatie of tarief gevonden voor {discipline} in fase {phase}.",
        "No monodisciplinary prestatie or tariff found for {discipline} in phase {phase}.",
        "reported",
    ),
    ReasonCode.CLAIMED_BY_NON_MEMBER: ReasonText(
        "Deze zorg is van een niet-lid; die declareert zelf bij de zorgverzekeraar.",
        "This care is by a non-member, who claims it directly from the insurer.",
        "reported",
    ),
    ReasonCode.PENDING: ReasonText(
        "Wacht op het einde van de fase.",
        "Waiting for the phase to end.",
        "reported",
    ),
}


SHORT: dict[ReasonCode, tuple[str, str]] = {
    ReasonCode.ALL_CARE_BY_MEMBERS: ("alle zorg door leden", "all care by members"),
    ReasonCode.NON_MEMBER_CARE: ("bundelbreker: zorg door niet-lid", "bundle breaker: care by a non-member"),
    ReasonCode.MEMBERSHIP_NOT_ACTIVE: (
        "bundelbreker: geen lid op die datum",
        "bundle breaker: not a member that day",
    ),
    ReasonCode.NON_MEMBER_OVERLAP_SETTLED: (
        "overlap met niet-lid, via contract",
        "non-member overlap, settled",
    ),
    ReasonCode.INSURER_REPORTED_OVERLAP: (
        "bundelbreker gemeld door verzekeraar (0587)",
        "bundle breaker reported by the insurer (0587)",
    ),
    ReasonCode.CONTRACT_MISSING: ("geen contract met verzekeraar", "no contract with the insurer"),
    ReasonCode.PRESTATIE_NOT_CONTRACTED: ("prestatie niet gecontracteerd", "prestatie not contracted"),
    ReasonCode.NO_INTEGRAL_PRESTATIE: ("geen passende integrale prestatie", "no fitting integral prestatie"),
    ReasonCode.NO_RULESET: ("geen regelset voor het jaar", "no rule set for the year"),
    ReasonCode.TRAJECTORY_ONGOING: ("traject loopt nog", "trajectory still running"),
    ReasonCode.PHASE_NOT_ENDED: ("fase nog niet declarabel", "phase not claimable yet"),
    ReasonCode.PHASE_NOT_REACHED: ("fase niet bereikt", "phase not reached"),
    ReasonCode.NO_CARE_IN_PHASE: ("geen zorg geregistreerd in fase", "no care registered in phase"),
    ReasonCode.ENDED_MISCARRIAGE: ("geëindigd in miskraam", "ended in miscarriage"),
    ReasonCode.ENDED_TERMINATION: ("zwangerschap afgebroken", "pregnancy terminated"),
    ReasonCode.PARTIAL_TRAJECTORY_FALLBACK: (
        "voortijdig geëindigd: leden declareren",
        "ended early: members claim",
    ),
    ReasonCode.PARTIAL_TRAJECTORY_INTEGRAL: (
        "voortijdig geëindigd: IGO declareert",
        "ended early: IGO claims",
    ),
    ReasonCode.OUT_OF_SCOPE: ("buiten integrale geboortezorg", "outside integral birth care"),
    ReasonCode.OUTSIDE_TRAJECTORY: ("buiten het zorgtraject", "outside the trajectory"),
    ReasonCode.NO_TRAJECTORY: ("geen zorgtraject gevonden", "no trajectory found"),
    ReasonCode.BSN_MISMATCH: ("BSN past niet bij traject", "BSN does not match trajectory"),
    ReasonCode.UNKNOWN_ACTIVITY_CODE: ("onbekende activiteitcode", "unknown activity code"),
    ReasonCode.DISCIPLINE_MISMATCH: (
        "activiteit past niet bij discipline",
        "activity does not fit discipline",
    ),
    ReasonCode.NO_MONO_TARIFF: ("geen monodisciplinair tarief", "no monodisciplinary tariff"),
    ReasonCode.CLAIMED_BY_NON_MEMBER: ("niet-lid declareert zelf", "non-member claims itself"),
    ReasonCode.PENDING: ("wacht op einde fase", "waiting for phase end"),
}
"""A few words per reason, for tables and charts."""


def short(code: ReasonCode, lang: str = "nl") -> str:
    nl, en = SHORT[code]
    return nl if lang == "nl" else en


def render(code: ReasonCode, params: dict[str, str] | None = None, lang: str = "nl") -> str:
    """The reason as a sentence in ``lang`` (``nl`` or ``en``); unknown placeholders are left visible."""
    text = REASONS[code]
    template = text.nl if lang == "nl" else text.en

    class _Keep(dict[str, str]):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    return template.format_map(_Keep(params or {}))
