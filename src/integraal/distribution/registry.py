"""The model registry: distribution models are plain functions registered by name (beancount's plugin habit).

A model is a name, a kind (a *top-slice* takes an amount off the top; a *main* model divides all that is left),
Dutch and English title and description, a parameter dataclass, and one function

    allocate(budget, data, params, step) -> Allocation

A top-slice's allocation distributes the slice it took (at most the budget); a main model's distributes the
whole budget. Adding a model is adding a module under ``models/`` that calls :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Generic

from integraal.distribution.allocation import Allocation, Budget
from integraal.distribution.inputs import DistributionInput
from integraal.distribution.parameters import (
    P,
    ParameterError,
    ParameterSpec,
    parameter_problems,
    parameters_from_mapping,
    schema,
)


class StepKind(StrEnum):
    TOP_SLICE = "top_slice"  # voorafafdracht: a fixed or percentage amount off the top
    MAIN = "main"  # hoofdverdeling: divides everything that is left


class UnknownModelError(KeyError):
    pass


@dataclass(frozen=True, slots=True)
class Model(Generic[P]):
    """A distribution model. ``negative_igo``: the model may leave the IGO recipient negative (a reserve draw);
    no model ever gives a *member* a negative amount."""

    name: str
    kind: StepKind
    title_nl: str
    title_en: str
    description_nl: str
    description_en: str
    parameters: type[P]
    allocate: Callable[[Budget, DistributionInput, P, str], Allocation]
    negative_igo: bool = False

    def schema(self) -> tuple[ParameterSpec, ...]:
        return schema(self.parameters)

    def default_parameters(self) -> P:
        return self.parameters()

    def parameters_from_mapping(self, values: Mapping[str, object]) -> P:
        return parameters_from_mapping(self.parameters, values)

    def run(self, budget: Budget, data: DistributionInput, params: P, step: str | None = None) -> Allocation:
        """Check parameters and input, then allocate. Raises ``ParameterError`` / ``InvalidInputError``."""
        if not isinstance(params, self.parameters):
            raise TypeError(f"model {self.name!r} takes {self.parameters.__name__}, not {type(params).__name__}")
        problems = parameter_problems(params)
        if problems:
            raise ParameterError(problems)
        data.check()
        allocation = self.allocate(budget, data, params, step or self.name)
        limit = budget.total if self.kind is StepKind.MAIN else None
        if limit is not None and allocation.distributed_cents != limit:
            raise AssertionError(f"main model {self.name!r} distributed {allocation.distributed_cents} of {limit}")
        return allocation


_MODELS: dict[str, Model[Any]] = {}


def register(model: Model[P]) -> Model[P]:
    """Add ``model`` under its name; a second model under a taken name is a programming error."""
    if model.name in _MODELS and _MODELS[model.name] is not model:
        raise ValueError(f"a distribution model named {model.name!r} is already registered")
    _MODELS[model.name] = model
    return model


def get_model(name: str) -> Model[Any]:
    """The model registered as ``name``; the error names the ones that exist."""
    _load_builtin_models()
    try:
        return _MODELS[name]
    except KeyError:
        known = ", ".join(sorted(_MODELS)) or "none"
        raise UnknownModelError(f"no distribution model {name!r}; registered: {known}") from None


def models() -> Mapping[str, Model[Any]]:
    """All registered models by name (read-only view)."""
    _load_builtin_models()
    return MappingProxyType(_MODELS)


def _load_builtin_models() -> None:
    # Importing the package registers the built-in models; late, to avoid an import cycle.
    import integraal.distribution.models  # noqa: F401
