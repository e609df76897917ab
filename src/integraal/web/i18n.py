"""The web UI's languages: a gettext catalogue per language (``locale/<lang>/LC_MESSAGES/messages.po``).

Source strings in the templates and in Python are English; Dutch is the default language of the UI, so every
string needs a Dutch translation (a test extracts the strings with Babel and checks the catalogue). The ``.po``
files are compiled in memory when first used, so the repository holds only text a translator can review.
Domain words that are ambiguous on their own ("natal", "fallback") carry a gettext context (``pgettext``).
"""

from __future__ import annotations

import gettext
import io
from functools import lru_cache
from importlib import resources

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
LANGUAGE_COOKIE = "integraal_lang"
LANGUAGE_NAMES = {"nl": "Nederlands", "en": "English"}


def catalogue_path(lang: str) -> str:
    return f"locale/{lang}/LC_MESSAGES/messages.po"


@lru_cache(maxsize=len(LANGUAGES))
def translations(lang: str) -> gettext.GNUTranslations:
    """The compiled catalogue of ``lang`` (one of :data:`LANGUAGES`)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    source = resources.files("integraal.web").joinpath(catalogue_path(lang))
    with source.open("rb") as po:
        catalog = read_po(po, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out: an unchecked translation shows the source text
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def choose_language(requested: str | None, cookie: str | None) -> str:
    """The language of a request: an explicit ``?lang=``, else the remembered choice, else Dutch."""
    for candidate in (requested, cookie):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE
