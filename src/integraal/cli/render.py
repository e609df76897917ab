"""Terminal rendering of summaries, explanations and the catalogue (rich tables), in Dutch or English."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from integraal.domain.activity import Activity
from integraal.domain.catalogue import RuleSet
from integraal.domain.money import format_euros
from integraal.domain.phase import PHASES
from integraal.domain.pregnancy import Pregnancy
from integraal.rules.decision import PregnancyDecision
from integraal.rules.engine import DecisionContext
from integraal.rules.reasons import ReasonCode, short
from integraal.services.decisions import RunSummary

WORDS = {
    "nl": {
        "prenatal": "prenataal",
        "natal": "natale fase",
        "postnatal": "postnataal",
        "integral": "integraal",
        "fallback": "terugval (los declareren)",
        "incomplete": "onvolledig",
        "not_applicable": "niet van toepassing",
        "phase": "fase",
        "decisions": "Besluiten per fase",
        "money": "Declaraties",
        "kind": "soort",
        "lines": "regels",
        "amount": "bedrag",
        "mono": "monodisciplinair (leden)",
        "reasons": "Redenen van de besluiten per fase",
        "activity_reasons": "Activiteiten die niet in een declaratie staan, per reden",
        "reason": "reden",
        "count": "aantal",
        "pregnancies": "zwangerschappen",
        "fully_integral": "geheel integraal",
        "with_fallback": "met terugval (bundelbreker of anders)",
        "unmatched": "activiteiten zonder zorgtraject",
        "overview": "Overzicht",
        "activities": "activiteiten",
        "timeline": "Tijdlijn per zorgaanbieder",
        "date": "datum",
        "week": "week",
        "provider": "zorgaanbieder",
        "activity": "activiteit",
        "member": "lid",
        "outcome": "uitkomst",
        "claims": "declaratieregels",
        "yes": "ja",
        "no": "nee",
    },
    "en": {
        "prenatal": "prenatal",
        "natal": "natal",
        "postnatal": "postnatal",
        "integral": "integral",
        "fallback": "fallback (separate claims)",
        "incomplete": "incomplete",
        "not_applicable": "not applicable",
        "phase": "phase",
        "decisions": "Decisions per phase",
        "money": "Claims",
        "kind": "kind",
        "lines": "lines",
        "amount": "amount",
        "mono": "monodisciplinary (members)",
        "reasons": "Reasons behind the phase decisions",
        "activity_reasons": "Activities not on a claim line, by reason",
        "reason": "reason",
        "count": "count",
        "pregnancies": "pregnancies",
        "fully_integral": "fully integral",
        "with_fallback": "with a fallback (bundle breaker or other)",
        "unmatched": "activities without a trajectory",
        "overview": "Overview",
        "activities": "activities",
        "timeline": "Timeline per provider",
        "date": "date",
        "week": "week",
        "provider": "provider",
        "activity": "activity",
        "member": "member",
        "outcome": "outcome",
        "claims": "claim lines",
        "yes": "yes",
        "no": "no",
    },
}

OUTCOMES = ("integral", "fallback", "incomplete", "not_applicable")


def count(n: int, lang: str) -> str:
    """Thousands separated the way the reader expects: 25.233 in Dutch, 25,233 in English."""
    text = f"{n:,}"
    return text.replace(",", ".") if lang == "nl" else text


def _w(lang: str) -> dict[str, str]:
    return WORDS.get(lang, WORDS["en"])


def summary_tables(summary: RunSummary, lang: str = "nl") -> list[Table]:
    w = _w(lang)

    def share(n: int) -> str:
        if not summary.pregnancies:
            return count(n, lang)
        percent = f"{100 * n / summary.pregnancies:.1f}"
        return f"{count(n, lang)} ({percent.replace('.', ',') if lang == 'nl' else percent}%)"

    overview = Table(title=w["overview"], show_header=False)
    overview.add_column()
    overview.add_column(justify="right")
    overview.add_row(w["pregnancies"], count(summary.pregnancies, lang))
    overview.add_row(w["activities"], count(summary.activities, lang))
    overview.add_row(w["fully_integral"], share(summary.pregnancies_fully_integral))
    overview.add_row(w["with_fallback"], share(summary.pregnancies_with_fallback))
    overview.add_row(w["unmatched"], count(summary.unmatched, lang))

    decisions = Table(title=w["decisions"])
    decisions.add_column(w["phase"])
    for outcome in OUTCOMES:
        decisions.add_column(w[outcome], justify="right")
    for phase in PHASES:
        decisions.add_row(w[phase.value], *(count(summary.outcomes[(phase.value, o)], lang) for o in OUTCOMES))

    money = Table(title=w["money"])
    money.add_column(w["kind"])
    money.add_column(w["lines"], justify="right")
    money.add_column(w["amount"], justify="right")
    for kind in ("integral", "mono"):
        money.add_row(w[kind], count(summary.lines[kind], lang), format_euros(summary.amounts[kind], lang))

    tables = [overview, decisions, money]
    for title, counter in ((w["reasons"], summary.reasons), (w["activity_reasons"], summary.activity_reasons)):
        table = Table(title=title)
        table.add_column("code")
        table.add_column(w["reason"])
        table.add_column(w["count"], justify="right")
        for code, n in counter.most_common(10):
            table.add_row(code, short(ReasonCode(code), lang) if code else "", count(n, lang))
        tables.append(table)
    return tables


def explain_text(
    pregnancy: Pregnancy,
    activities: Sequence[Activity],
    decision: PregnancyDecision,
    context: DecisionContext,
    lang: str = "nl",
) -> list[RenderableType]:
    """The whole trajectory and its decision, readable by a back-office clerk."""
    w = _w(lang)
    header = Text.assemble(
        (f"{pregnancy.pregnancy_id}", "bold"),
        f"  BSN {pregnancy.bsn[:3]}***{pregnancy.bsn[-2:]}  UZOVI {pregnancy.uzovi}  IGO {pregnancy.igo_id}\n",
        f"intake {pregnancy.intake_date}  à terme {pregnancy.due_date}  ",
        f"labour {pregnancy.labour_date or '-'}  end {pregnancy.end_date or '-'} ({pregnancy.end_reason or 'ongoing'})",
        f"  referral {pregnancy.referral_stage or '-'} {pregnancy.referral_date or ''}",
    )
    outcome_of = {o.activity_id: o for o in decision.activities}
    timeline = Table(title=w["timeline"])
    for column in ("date", "week", "provider", "activity", "member", "phase", "outcome"):
        timeline.add_column(w[column])
    for activity in sorted(activities, key=lambda a: (a.day, a.agb, a.activity_id)):
        provider = context.providers.get(activity.agb)
        member = context.memberships.is_member(pregnancy.igo_id, activity.agb, activity.day)
        outcome = outcome_of.get(activity.activity_id)
        where = outcome.phase.value if outcome and outcome.phase else "-"
        fate = ""
        if outcome:
            fate = outcome.disposition.value
            if outcome.prestatie_code:
                fate += f" → {outcome.prestatie_code}"
            if outcome.reason:
                fate += f" ({outcome.reason.value})"
        qty = "" if activity.quantity == 1 else f" ×{activity.quantity}"
        timeline.add_row(
            activity.day.isoformat(),
            str(pregnancy.gestational_week(activity.day)),
            f"{activity.agb} {provider.name if provider else '?'}"
            + (f" [{provider.discipline.value}]" if provider else ""),
            activity.code + qty,
            w["yes"] if member else f"[red]{w['no']}[/]",
            w.get(where, where),
            fate,
        )
    phases: list[RenderableType] = []
    for phase in decision.phases:
        lines = [
            Text.assemble(
                (f"{w[phase.outcome.value]}", "bold"),
                f"   rule set {phase.ruleset_version or '-'}  contract {phase.contract_id or '-'}",
            )
        ]
        for reason in phase.reasons:
            lines.append(Text(f"• {reason.code.value}: {reason.text(lang)}"))
        for line in phase.claims:
            lines.append(
                Text(
                    f"  {line.kind.value:<8} {line.prestatie_code:<24} {line.claimant_agb}  "
                    f"{line.quantity} × {format_euros(line.tariff_cents, lang)} = "
                    f"{format_euros(line.amount_cents, lang)}  ({line.tariff_source}, "
                    f"{'declaratiedatum' if lang == 'nl' else 'declaration date'} {line.declaration_date})"
                )
            )
        phases.append(Panel(Group(*lines), title=w[phase.phase.value]))
    return [Panel(header), timeline, *phases]


def catalogue_tables(ruleset: RuleSet, lang: str = "nl") -> list[Table]:
    nl = lang == "nl"
    types = Table(title=f"Activity types {ruleset.year} ({ruleset.version})")
    # Codes are what a user types next: never cut them, let the prose columns wrap instead.
    types.add_column("code", no_wrap=True)
    for column in ("disciplines", "phase", "in scope", "mono", "description"):
        types.add_column(column)
    for t in ruleset.activity_types.values():
        types.add_row(
            t.code,
            "|".join(sorted(d.value for d in t.disciplines)),
            t.phase.value if t.phase else "by date",
            "yes" if t.in_scope else "no",
            t.mono,
            t.description_nl if nl else t.description_en,
        )
    integral = Table(title="Integral prestaties")
    integral.add_column("code", no_wrap=True)
    for column in ("phase", "condition", "priority", "description"):
        integral.add_column(column)
    for p in ruleset.integral_prestaties:
        integral.add_row(
            p.code, p.phase.value, p.condition, str(p.priority), p.description_nl if nl else p.description_en
        )
    mono = Table(title="Monodisciplinary prestaties")
    mono.add_column("code", no_wrap=True)
    for column in ("discipline", "phase", "unit", "tariff", "estimated", "description"):
        mono.add_column(column)
    for m in ruleset.mono_prestaties:
        mono.add_row(
            m.code,
            m.discipline.value,
            m.phase.value,
            m.unit.value,
            format_euros(m.tariff_cents, lang),
            "yes" if m.estimated else "no",
            m.description_nl if nl else m.description_en,
        )
    return [types, integral, mono]
