"""The web UI's Dutch catalogue is complete and in step with the source (issue 3: "Dutch texts by default, via
a real i18n catalogue"). Strings are extracted from the templates and Python with Babel, as a translator would.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from integraal.web.i18n import LANGUAGES, catalogue_path, choose_language, translations
from integraal.web.labels import LABELS, label

WEB = Path(__file__).resolve().parents[2] / "src" / "integraal" / "web"
KEYWORDS = {"_": None, "gettext": None, "N_": None, "pgettext": ((1, "c"), 2), "pgettext_noop": ((1, "c"), 2)}
METHODS = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def extracted() -> set[tuple[str | None, str]]:
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        str(WEB), METHODS, keywords=KEYWORDS, options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    ):
        text = message if isinstance(message, str) else message[0]
        found.add((context, text))
    return found


def catalogue(lang: str) -> dict[tuple[str | None, str], str]:
    with (WEB / catalogue_path(lang)).open("rb") as po:
        return {(m.context, m.id): m.string for m in read_po(po) if m.id}


def test_every_ui_string_has_a_dutch_translation_and_none_is_stale():
    source = extracted()
    dutch = catalogue("nl")
    assert len(source) > 150, "extraction found too little: is the extractor configuration right?"
    missing = sorted(str(k) for k in source - set(dutch))
    stale = sorted(str(k) for k in set(dutch) - source)
    untranslated = sorted(str(k) for k, text in dutch.items() if not text.strip())
    assert not missing, f"strings without an entry in the Dutch catalogue: {missing}"
    assert not stale, f"entries no longer used in the source: {stale}"
    assert not untranslated, f"entries without a Dutch text: {untranslated}"


def test_translations_keep_their_placeholders():
    for (_context, source), text in catalogue("nl").items():
        assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(source)), source


def test_english_catalogue_lists_the_same_strings():
    assert set(catalogue("en")) == set(catalogue("nl"))


def test_every_domain_value_has_a_dutch_name():
    dutch = translations("nl")
    for kind, values in LABELS.items():
        for value, (_context, english) in values.items():
            assert label(dutch, kind, value) != english or english in {"contract", "Dashboard", "discipline"}, (
                kind,
                value,
            )
            assert label(translations("en"), kind, value) == english


@pytest.mark.parametrize(
    ("requested", "cookie", "expected"),
    [(None, None, "nl"), ("en", None, "en"), (None, "en", "en"), ("nl", "en", "nl"), ("xx", "yy", "nl")],
)
def test_language_is_the_request_then_the_remembered_choice_then_dutch(requested, cookie, expected):
    assert choose_language(requested, cookie) == expected
    assert expected in LANGUAGES


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="unknown language"):
        translations("de")
