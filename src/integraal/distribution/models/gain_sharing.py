"""Gain sharing against a benchmark (gedeelde besparing), with a cap on gains and a floor on losses per member.

Formula: a member's benchmark ``b_i`` is its share of ``benchmark_pct × Σ shadow claims`` (split by shadow
claims). The gain is ``G = budget − Σ b_i`` (negative: a loss). Members together bear ``member_share_pct`` of it,
the IGO the rest; the members' part is split by shadow claims into ``g_i``, then clipped to
``−max_loss_pct × b_i ≤ g_i ≤ max_gain_pct × b_i`` (both floored to a cent). What the clipping cuts off goes to the
IGO. ``amount_i = b_i + g_i``.

Sign rule (decided): a member's amount is never negative (``max_loss_pct ≤ 100``); a member may get a negative
*line* (its share of a loss). The IGO recipient may end negative: it then absorbs a loss beyond the members'
floors out of its reserve. This is the only model with ``negative_igo``.
Promise: ``b_i × (1 − max_loss) ≤ amount_i ≤ b_i × (1 + max_gain)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from integraal.distribution.allocation import (
    Allocation,
    Budget,
    ExplanationLine,
    eur,
    fmt_decimal,
    igo_line,
    percent_of,
    split_exact,
)
from integraal.distribution.inputs import DistributionInput
from integraal.distribution.parameters import ParameterKind, ParameterProblem, Parameters, parameter
from integraal.distribution.registry import Model, StepKind, register


@dataclass(frozen=True, slots=True)
class GainSharingParameters(Parameters):
    benchmark_pct: Decimal = parameter(  # noqa: RUF009 (parameter() is dataclasses.field with metadata)
        ParameterKind.PERCENT,
        Decimal(100),
        "Benchmark (% van de monodisciplinaire waarde)",
        "Benchmark (% of the monodisciplinary value)",
        unit="%",
        minimum=0,
        maximum=1000,
        help_nl="100 %: wat de leden los zouden hebben gedeclareerd.",
        help_en="100 %: what the members would have claimed on their own.",
    )
    member_share_pct: Decimal = parameter(  # noqa: RUF009 (parameter() is dataclasses.field with metadata)
        ParameterKind.PERCENT,
        Decimal(50),
        "Deel van winst/verlies voor de leden",
        "Members' part of the gain or loss",
        unit="%",
        minimum=0,
        maximum=100,
        help_nl="De rest is voor (of ten laste van) de IGO: herinvestering in kwaliteit of reserve.",
        help_en="The rest goes to (or is borne by) the IGO: reinvestment in quality, or its reserve.",
    )
    max_gain_pct: Decimal = parameter(  # noqa: RUF009 (parameter() is dataclasses.field with metadata)
        ParameterKind.PERCENT,
        Decimal(10),
        "Plafond: maximale winst per lid (% van zijn benchmark)",
        "Cap: maximum gain per member (% of its benchmark)",
        unit="%",
        minimum=0,
        maximum=1000,
    )
    max_loss_pct: Decimal = parameter(  # noqa: RUF009 (parameter() is dataclasses.field with metadata)
        ParameterKind.PERCENT,
        Decimal(5),
        "Bodem: maximaal verlies per lid (% van zijn benchmark)",
        "Floor: maximum loss per member (% of its benchmark)",
        unit="%",
        minimum=0,
        maximum=100,
    )

    def cross_checks(self) -> list[ParameterProblem]:
        pct = self.member_share_pct
        if pct != pct.quantize(Decimal("0.01")):
            return [ParameterProblem("member_share_pct", "at most two decimals")]
        return []


def _floor_pct(amount: int, pct: Decimal) -> int:
    return int((Decimal(amount) * pct / 100).to_integral_value(rounding=ROUND_FLOOR))


def allocate(budget: Budget, data: DistributionInput, params: GainSharingParameters, step: str) -> Allocation:
    shadow = data.shadow_by_member()
    agbs = sorted(shadow)
    mono = [shadow[a] for a in agbs]
    total = budget.total
    if sum(mono) == 0:
        if total == 0:
            return Allocation(0, ())
        line = igo_line(
            total,
            step=step,
            model=MODEL.name,
            basis="no benchmark",
            text_nl=f"{eur(total, 'nl')} niet toegedeeld: geen schaduwdeclaraties als benchmark",
            text_en=f"{eur(total, 'en')} not allocated: no shadow claims to benchmark against",
        )
        return Allocation(total, (line,))
    benchmark_total = percent_of(sum(mono), params.benchmark_pct)
    benchmarks = split_exact(benchmark_total, mono)
    gain = total - benchmark_total
    member_pct = int(params.member_share_pct * 100)
    members_part, igo_part = split_exact(gain, [member_pct, 10_000 - member_pct])
    shares = split_exact(members_part, mono)
    lines: list[ExplanationLine] = []
    cut_off = 0
    for agb, bench, share in zip(agbs, benchmarks, shares, strict=True):
        clipped = min(max(share, -_floor_pct(bench, params.max_loss_pct)), _floor_pct(bench, params.max_gain_pct))
        cut_off += share - clipped
        if bench:
            lines.append(
                ExplanationLine(
                    agb,
                    step,
                    MODEL.name,
                    f"benchmark {params.benchmark_pct}% of shadow {shadow[agb]}",
                    bench,
                    f"{eur(bench, 'nl')}: benchmark, {fmt_decimal(params.benchmark_pct, 'nl')} % van de "
                    f"schaduwdeclaraties {eur(shadow[agb], 'nl')}",
                    f"{eur(bench, 'en')}: benchmark, {fmt_decimal(params.benchmark_pct, 'en')} % of the shadow "
                    f"claims {eur(shadow[agb], 'en')}",
                )
            )
        if clipped:
            word_nl, word_en = ("winst", "gain") if clipped > 0 else ("verlies", "loss")
            clip_nl = "" if clipped == share else f" (begrensd; onbegrensd {eur(share, 'nl')})"
            clip_en = "" if clipped == share else f" (limited; unlimited {eur(share, 'en')})"
            lines.append(
                ExplanationLine(
                    agb,
                    step,
                    MODEL.name,
                    f"{word_en} share {share} clipped to {clipped}",
                    clipped,
                    f"{eur(clipped, 'nl')}: aandeel in het {word_nl} van de leden {eur(members_part, 'nl')}{clip_nl}",
                    f"{eur(clipped, 'en')}: share of the members' {word_en} {eur(members_part, 'en')}{clip_en}",
                )
            )
    if igo_part:
        lines.append(
            igo_line(
                igo_part,
                step=step,
                model=MODEL.name,
                basis=f"IGO part {100 - params.member_share_pct}% of gain {gain}",
                text_nl=f"{eur(igo_part, 'nl')}: deel van de IGO in winst/verlies {eur(gain, 'nl')} "
                "(herinvestering in kwaliteit of reserve)",
                text_en=f"{eur(igo_part, 'en')}: the IGO's part of the gain/loss {eur(gain, 'en')} "
                "(reinvestment in quality, or reserve)",
            )
        )
    if cut_off:
        lines.append(
            igo_line(
                cut_off,
                step=step,
                model=MODEL.name,
                basis="beyond caps and floors",
                text_nl=f"{eur(cut_off, 'nl')}: winst boven de plafonds / verlies onder de bodems van de leden",
                text_en=f"{eur(cut_off, 'en')}: gain above the members' caps / loss below their floors",
            )
        )
    return Allocation(total, tuple(lines))


MODEL = register(
    Model(
        name="gain_sharing",
        kind=StepKind.MAIN,
        title_nl="Gedeelde besparing ten opzichte van een benchmark",
        title_en="Gain sharing against a benchmark",
        description_nl=(
            "Ieder lid krijgt eerst zijn benchmark: wat het los zou hebben gedeclareerd. Levert de integrale "
            "bekostiging meer op (doelmatigere zorg), dan delen leden en IGO die winst; valt het tegen, dan dragen "
            "zij samen het verlies. Een plafond en een bodem per lid houden de uitslag beheersbaar; het deel van "
            "de IGO wordt geherinvesteerd in kwaliteit of gaat naar de reserve."
        ),
        description_en=(
            "Each member first gets its benchmark: what it would have claimed on its own. If the integral funding "
            "brings in more (more efficient care), members and IGO share the gain; if it falls short, they bear the "
            "loss together. A cap and a floor per member keep the swing manageable; the IGO's part is reinvested in "
            "quality or goes to its reserve."
        ),
        parameters=GainSharingParameters,
        allocate=allocate,
        negative_igo=True,
    )
)
