"""Dividing the money behind the front door (DOMAIN.md §5): distribution models, plans and the transition.

A pure core: no database, no files, no web. The public surface:

- input: :class:`DistributionInput` and its row types, :func:`derive_client_profile`;
- result: :class:`Allocation` of :class:`ExplanationLine` (recipient ``IGO`` is the IGO's own share);
- models: :func:`register`, :func:`get_model`, :func:`models` — each a :class:`Model` with a parameter schema;
- plans: :class:`DistributionPlan` of :class:`PlanStep`, :func:`run_plan`, :func:`plan_from_mapping`;
- transition: :func:`blend`, :func:`apply_corridor`, :func:`run_transition`, :class:`Corridor`,
  :class:`TransitionYear`, :class:`TransitionSchedule`;
- fairness reference: :func:`shapley_values`.

See ``docs/distribution.md``.
"""

from integraal.distribution.allocation import IGO, Allocation, Budget, ExplanationLine
from integraal.distribution.inputs import (
    ActivityCount,
    ClientProfile,
    DistributionInput,
    InputFrames,
    InputProblem,
    InvalidInputError,
    Member,
    PregnancyRow,
    QualityScore,
    Receipt,
    ShadowClaim,
    derive_client_profile,
    pregnancy_row,
    shadow_claims_from_lines,
)
from integraal.distribution.models.shapley import shapley_values
from integraal.distribution.parameters import (
    ParameterError,
    ParameterKind,
    ParameterProblem,
    Parameters,
    ParameterSpec,
    parameters_from_mapping,
    schema,
    table,
)
from integraal.distribution.plan import DistributionPlan, PlanStep, plan_from_mapping, run_plan, run_plan_detailed
from integraal.distribution.registry import Model, StepKind, UnknownModelError, get_model, models, register
from integraal.distribution.transition import (
    Corridor,
    CorridorResult,
    TransitionResult,
    TransitionSchedule,
    TransitionYear,
    apply_corridor,
    blend,
    run_transition,
)

__all__ = [
    "IGO",
    "ActivityCount",
    "Allocation",
    "Budget",
    "ClientProfile",
    "Corridor",
    "CorridorResult",
    "DistributionInput",
    "DistributionPlan",
    "ExplanationLine",
    "InputFrames",
    "InputProblem",
    "InvalidInputError",
    "Member",
    "Model",
    "ParameterError",
    "ParameterKind",
    "ParameterProblem",
    "ParameterSpec",
    "Parameters",
    "PlanStep",
    "PregnancyRow",
    "QualityScore",
    "Receipt",
    "ShadowClaim",
    "StepKind",
    "TransitionResult",
    "TransitionSchedule",
    "TransitionYear",
    "UnknownModelError",
    "apply_corridor",
    "blend",
    "derive_client_profile",
    "get_model",
    "models",
    "parameters_from_mapping",
    "plan_from_mapping",
    "pregnancy_row",
    "register",
    "run_plan",
    "run_plan_detailed",
    "run_transition",
    "schema",
    "shadow_claims_from_lines",
    "shapley_values",
    "table",
]
