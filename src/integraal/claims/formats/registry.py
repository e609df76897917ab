"""The format registry: wire formats are plain functions registered by name (beancount's plugin habit).

A format is a name, a description and two functions, ``write(batch) -> bytes`` and ``read(bytes) -> batch``,
satisfying :class:`ClaimFormat`. Adding a format is adding a module that calls :func:`register`; callers pick
one by name (e.g. from a CLI option or an insurer's setting) with :func:`get_format`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, Protocol, TypeVar

from integraal.claims.formats.errors import UnknownFormatError

B = TypeVar("B")


class ClaimFormat(Protocol[B]):
    """What every claim/return format offers. ``read`` raises only the format's ``FormatError`` subclasses."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    def write(self, batch: B, /) -> bytes: ...

    def read(self, data: bytes, /) -> B: ...


@dataclass(frozen=True, slots=True)
class Format(Generic[B]):
    """A format made of two plain functions."""

    name: str
    description: str
    writer: Callable[[B], bytes]
    reader: Callable[[bytes], B]

    def write(self, batch: B, /) -> bytes:
        return self.writer(batch)

    def read(self, data: bytes, /) -> B:
        return self.reader(data)


_FORMATS: dict[str, ClaimFormat[Any]] = {}


def register(fmt: ClaimFormat[Any]) -> ClaimFormat[Any]:
    """Add ``fmt`` under its name; registering a second format under a taken name is a programming error."""
    if fmt.name in _FORMATS and _FORMATS[fmt.name] is not fmt:
        raise ValueError(f"a claim format named {fmt.name!r} is already registered")
    _FORMATS[fmt.name] = fmt
    return fmt


def get_format(name: str) -> ClaimFormat[Any]:
    """The format registered as ``name``; ``UnknownFormatError`` names the ones that exist."""
    try:
        return _FORMATS[name]
    except KeyError:
        known = ", ".join(sorted(_FORMATS)) or "none"
        raise UnknownFormatError(f"no claim format {name!r}; registered: {known}") from None


def formats() -> Mapping[str, ClaimFormat[Any]]:
    """All registered formats by name (read-only view)."""
    return MappingProxyType(_FORMATS)
