"""A distribution plan (verdeelplan): the ordered steps an IGO applies to a year's money.

A plan is zero or more *top-slices* (availability fee, quality pool, overhead/reserve — each takes an amount off
the top) followed by exactly one *main* model that divides everything left. Top-slice percentages are of the
total received for the period; each slice is taken from the phases in proportion to what is left in them, so a
per-phase main model still sees per-phase money. The run returns one :class:`Allocation` with every explanation
line of every step, summing exactly to the money received; the IGO's own share is the recipient ``IGO``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from integraal.distribution.allocation import Allocation, Budget, ExplanationLine
from integraal.distribution.inputs import DistributionInput
from integraal.distribution.parameters import ParameterError, ParameterProblem, Parameters, parameter_problems
from integraal.distribution.registry import StepKind, get_model


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One step: a registered model by name, its parameters, and a label for the explanation lines."""

    model: str
    parameters: Parameters | None = None  # None: the model's defaults
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or self.model


@dataclass(frozen=True, slots=True)
class DistributionPlan:
    """The steps for one ``year``: top-slices first, one main model last."""

    year: int
    steps: tuple[PlanStep, ...]
    name: str = ""

    def problems(self) -> list[ParameterProblem]:
        """Everything wrong with the plan's shape and parameters, each with the step it is about."""
        problems: list[ParameterProblem] = []
        if not self.steps:
            return [ParameterProblem("steps", "a plan needs at least a main model")]
        labels = [s.name for s in self.steps]
        for index, step in enumerate(self.steps):
            where = f"steps[{index}]"
            if labels.count(step.name) > 1:
                problems.append(ParameterProblem(where, f"step label {step.name!r} is used twice; give a label"))
            try:
                model = get_model(step.model)
            except KeyError as error:
                problems.append(ParameterProblem(where, str(error.args[0])))
                continue
            last = index == len(self.steps) - 1
            if last and model.kind is not StepKind.MAIN:
                problems.append(ParameterProblem(where, "the last step must be a main model"))
            if not last and model.kind is StepKind.MAIN:
                problems.append(ParameterProblem(where, "a main model must be the last step"))
            params = step.parameters if step.parameters is not None else model.default_parameters()
            if not isinstance(params, model.parameters):
                problems.append(ParameterProblem(where, f"parameters must be {model.parameters.__name__}"))
                continue
            problems.extend(ParameterProblem(f"{where}.{p.field}", p.message) for p in parameter_problems(params))
        return problems


def plan_from_mapping(year: int, steps: Sequence[Mapping[str, Any]], name: str = "") -> DistributionPlan:
    """A plan from plain data (e.g. a stored YAML/JSON document): ``[{"model": ..., "parameters": {...},
    "label": ...}, ...]``. Raises :class:`ParameterError` naming every bad field as ``steps[i].field``."""
    built: list[PlanStep] = []
    problems: list[ParameterProblem] = []
    for index, raw in enumerate(steps):
        try:
            model = get_model(str(raw.get("model", "")))
        except KeyError as error:
            problems.append(ParameterProblem(f"steps[{index}].model", str(error.args[0])))
            continue
        try:
            params = model.parameters_from_mapping(raw.get("parameters") or {})
        except ParameterError as error:
            problems.extend(ParameterProblem(f"steps[{index}].{p.field}", p.message) for p in error.problems)
            continue
        built.append(PlanStep(model.name, params, str(raw.get("label", ""))))
    if problems:
        raise ParameterError(problems)
    plan = DistributionPlan(year, tuple(built), name)
    if plan.problems():
        raise ParameterError(plan.problems())
    return plan


@dataclass(frozen=True, slots=True)
class PlanRun:
    """The allocation of a plan run, and what each step took (for a step-by-step statement)."""

    allocation: Allocation
    steps: tuple[tuple[str, int], ...] = field(default=())


def run_plan(plan: DistributionPlan, data: DistributionInput) -> Allocation:
    """Run every step of ``plan`` on ``data``: the allocation of all money received, with every line."""
    return run_plan_detailed(plan, data).allocation


def run_plan_detailed(plan: DistributionPlan, data: DistributionInput) -> PlanRun:
    problems = plan.problems()
    if problems:
        raise ParameterError(problems)
    if plan.year != data.year:
        raise ValueError(f"the plan is for {plan.year}, the data for {data.year}")
    data.check()
    budget = Budget.of(data.received_by_phase())
    lines: list[ExplanationLine] = []
    taken: list[tuple[str, int]] = []
    for step in plan.steps:
        model = get_model(step.model)
        params = step.parameters if step.parameters is not None else model.default_parameters()
        allocation = model.run(budget, data, params, step.name)
        lines.extend(allocation.lines)
        taken.append((step.name, allocation.distributed_cents))
        if model.kind is StepKind.TOP_SLICE:
            budget = budget.minus(allocation.distributed_cents)
    return PlanRun(Allocation(budget.received_cents, tuple(lines)), tuple(taken))
