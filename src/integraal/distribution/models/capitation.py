"""Capitation per client profile (bekostiging per cliëntprofiel).

Formula: each pregnancy p has a weight ``w_p`` by its client profile. Its weight is attributed to the members who
cared for her in proportion to their share of her care (``claims``: her integral shadow claims; ``activities``:
activity counts for her; with neither, the pregnancy is not attributed). A member's weighted pregnancies
``W_i = Σ_p w_p × care_i,p / care_p`` (each term floored at a millionth, so the sum is exact and order-free) and
``amount_i = budget × W_i / Σ_j W_j``. Only pregnancies listed in ``pregnancies`` count (they carry the profile).
Promise (monotonicity): with everything else fixed, a member who alone cares for one more pregnancy, or whose
own pregnancies move to a heavier profile, never gets less.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from integraal.distribution.allocation import (
    FIXED_POINT,
    Allocation,
    Budget,
    eur,
    fixed_point,
    fmt_decimal,
    split_lines,
)
from integraal.distribution.inputs import PROFILE_NAMES, ClientProfile, DistributionInput
from integraal.distribution.parameters import ParameterKind, Parameters, as_dict, parameter, table
from integraal.distribution.registry import Model, StepKind, register

DEFAULT_WEIGHTS = table(
    low_risk_primary="1.0",
    referred_pregnancy="1.6",
    referred_labour="1.4",
    medical_indication="2.0",
    ended_early="0.4",
)
"""Illustrative only: the board sets the weights (e.g. from the casemix of the last years)."""

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class CapitationParameters(Parameters):
    weights: tuple[tuple[str, Decimal], ...] = parameter(
        ParameterKind.TABLE,
        DEFAULT_WEIGHTS,
        "Gewicht per cliëntprofiel",
        "Weight per client profile",
        unit="gewicht",
        minimum=0,
        maximum=1000,
        keys=tuple(p.value for p in ClientProfile),
        help_nl="Een zwangerschap met gewicht 2 levert tweemaal zoveel op als een met gewicht 1.",
        help_en="A pregnancy of weight 2 earns twice as much as one of weight 1.",
    )
    attribution: str = parameter(
        ParameterKind.CHOICE,
        "claims",
        "Toerekening van een zwangerschap aan leden",
        "Attribution of a pregnancy to members",
        choices=("claims", "activities"),
    )


def weighted_pregnancies(data: DistributionInput, params: CapitationParameters) -> dict[str, int]:
    """``W_i`` in millionths of a weighted pregnancy, for every member: in columns, with 128-bit integers (a
    weight of at most 10⁹ millionths times a share never overflows them), each term floored as ``//`` does."""
    weights = as_dict(params.weights)
    profile_weights = pl.DataFrame(
        {
            "profile": [p.value for p in ClientProfile],
            "w": [fixed_point(weights.get(p.value, _ZERO)) for p in ClientProfile],
        },
        schema={"profile": pl.String(), "w": pl.Int128()},
    )
    care = data.care_shares(params.attribution)
    totals = care.group_by("pregnancy_id").agg(pl.col("share").sum().alias("total"))
    weighted = (
        data.frame("pregnancies")
        .join(profile_weights, on="profile", how="inner")  # every pregnancy row, repeated ones too
        .filter(pl.col("w") != 0)
        .join(totals.filter(pl.col("total") != 0), on="pregnancy_id", how="inner")
        .join(care, on="pregnancy_id", how="inner")
        .group_by("agb")
        .agg((pl.col("w") * pl.col("share") // pl.col("total")).sum().alias("weighted"))
    )
    result = dict.fromkeys(data.member_agbs(), 0)
    for agb, value in weighted.iter_rows():
        result[agb] += int(value)
    return result


def allocate(budget: Budget, data: DistributionInput, params: CapitationParameters, step: str) -> Allocation:
    weights = weighted_pregnancies(data, params)
    total = sum(weights.values())
    weights_nl = ", ".join(f"{PROFILE_NAMES[ClientProfile(k)][0]} {fmt_decimal(v, 'nl', 1)}" for k, v in params.weights)
    weights_en = ", ".join(f"{PROFILE_NAMES[ClientProfile(k)][1]} {fmt_decimal(v, 'en', 1)}" for k, v in params.weights)

    def texts(agb: str, weight: int, part: int) -> tuple[str, str, str]:
        mine = Decimal(weight) / FIXED_POINT
        all_w = Decimal(total) / FIXED_POINT
        return (
            f"weighted pregnancies {mine}/{all_w}",
            f"{eur(part, 'nl')}: {fmt_decimal(mine, 'nl')} van {fmt_decimal(all_w, 'nl')} gewogen zwangerschappen "
            f"(gewichten: {weights_nl})",
            f"{eur(part, 'en')}: {fmt_decimal(mine, 'en')} of {fmt_decimal(all_w, 'en')} weighted pregnancies "
            f"(weights: {weights_en})",
        )

    lines = split_lines(
        budget.total,
        weights,
        step=step,
        model=MODEL.name,
        texts=texts,
        no_basis=("geen zwangerschappen toe te rekenen", "no pregnancies to attribute"),
    )
    return Allocation(budget.total, tuple(lines))


MODEL = register(
    Model(
        name="capitation",
        kind=StepKind.MAIN,
        title_nl="Bekostiging per cliëntprofiel",
        title_en="Capitation per client profile",
        description_nl=(
            "Iedere zwangerschap levert een bedrag op naar haar cliëntprofiel (laag risico eerstelijns, verwezen "
            "tijdens zwangerschap of bevalling, medische indicatie vanaf de start, vroegtijdig beëindigd). Dat "
            "bedrag gaat naar de leden die haar zorg leverden, naar hun aandeel in die zorg. Het geld volgt de "
            "cliënt en haar zorgvraag, niet het aantal handelingen."
        ),
        description_en=(
            "Every pregnancy earns an amount by her client profile (low risk in primary care, referred during "
            "pregnancy or labour, medical indication from the start, ended early). That amount goes to the "
            "members who cared for her, by their share of her care. The money follows the client and her needs, "
            "not the number of acts."
        ),
        parameters=CapitationParameters,
        allocate=allocate,
    )
)
