"""Jinja2 templates in the visitor's language: one environment per language with its gettext catalogue.

Filters format what the domain keeps exact (cents, dates, counts) the way a Dutch or English reader expects,
and name domain values (:mod:`integraal.web.labels`) and reasons in the chosen language.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from integraal.domain.money import format_euros
from integraal.rules.reasons import ReasonCode, short
from integraal.web.i18n import LANGUAGE_NAMES, LANGUAGES, translations
from integraal.web.labels import label

LOCALES = {"nl": "nl_NL", "en": "en_GB"}


@lru_cache(maxsize=len(LANGUAGES))
def environment(lang: str) -> Environment:
    env = Environment(
        loader=PackageLoader("integraal.web", "templates"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    catalogue = translations(lang)
    env.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]
    locale = LOCALES[lang]

    def euros(cents: int | None) -> str:
        return "–" if cents is None else format_euros(int(cents), lang)

    def number(value: int | None) -> str:
        return "–" if value is None else format_decimal(value, locale=locale)

    def percent(part: int | None, whole: int | None) -> str:
        if part is None or not whole:
            return "–"
        return format_percent(part / whole, format="#,##0.0 %", locale=locale)

    def rate(value: float | None, per: int = 100, mean: bool = False) -> str:
        """A rate as percent (per 100) or per mille (per 1000); a mean indicator's value as a plain number."""
        if value is None:
            return "–"
        if mean:
            return format_decimal(value, format="#,##0.0", locale=locale)
        return format_decimal(value * per, format="#,##0.0", locale=locale) + (" %" if per == 100 else " ‰")

    def day(value: dt.date | None, form: str = "medium") -> str:
        return "" if value is None else format_date(value, format=form, locale=locale)

    def moment(value: dt.datetime | None) -> str:
        return "" if value is None else format_datetime(value, format="short", locale=locale)

    def reason(code: str | None) -> str:
        if code is None:
            return ""
        try:
            return short(ReasonCode(code), lang)
        except ValueError:
            return code

    env.filters.update(
        euros=euros,
        number=number,
        rate=rate,
        decimal=lambda value: "–" if value is None else format_decimal(value, locale=locale),
        dict=dict,
        day=day,
        moment=moment,
        reason=reason,
        label=lambda value, kind: label(catalogue, kind, value),
    )
    env.globals.update(percent=percent, lang=lang, languages=LANGUAGES, language_names=LANGUAGE_NAMES)
    return env


def render(template: str, lang: str, **context: Any) -> str:
    return environment(lang).get_template(template).render(**context)
