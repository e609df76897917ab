"""The shipped catalogue cites its sources (DOMAIN.md §2: "record the source next to the data you ship").

Every integral and monodisciplinary prestatie row names where it comes from; a row that claims to be a
verified figure (``estimated=no``) must cite an NZa or Vektis document — a policy-rule or tariff-decision id
(BR/REG-, NR/REG-, TB/REG-) or an nza.nl / puc.overheid.nl / vektis.nl address. Anything else stays marked
estimated. Tariffs are whole euro-cents.

These tests read the CSV files as text on purpose: the ``source`` column is documentation, not domain data,
so the loader does not keep it.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from integraal.data.loader import CATALOGUE_ROOT

YEARS = sorted(int(p.name) for p in CATALOGUE_ROOT.iterdir() if p.is_dir() and p.name.isdigit())
PRIMARY_SOURCE = re.compile(
    r"\b(?:BR|NR|TB)/REG-\d+|\bnza\.nl\b|\bpuc\.overheid\.nl/nza\b|\bvektis\.nl\b", re.IGNORECASE
)
FEE_IN_HOSPITAL_TARIFF = {"DBC_ZWANGERSCHAP", "DBC_BEVALLING", "DBC_KRAAMBED"}
"""Gynaecologist DBC rows priced at 0: since 2015 the hospital claims the DBC including the specialist fee."""


def _rows(year: int, name: str) -> list[dict[str, str]]:
    path = CATALOGUE_ROOT / str(year) / name
    with Path(path).open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def _prestatie_rows(year: int) -> list[tuple[str, dict[str, str]]]:
    return [(name, row) for name in ("integral_prestaties.csv", "mono_prestaties.csv") for row in _rows(year, name)]


def test_at_least_2024_and_2025_are_shipped():
    """The Foundation issue: ship at least the contract years 2024 and 2025."""
    assert {2024, 2025} <= set(YEARS)


@pytest.mark.parametrize("year", YEARS)
def test_every_prestatie_row_names_its_source(year):
    """Every integral and mono prestatie row has a non-empty source."""
    missing = [
        (name, row["code"], row.get("discipline", "")) for name, row in _prestatie_rows(year) if not row["source"]
    ]
    assert missing == []


@pytest.mark.parametrize("year", YEARS)
def test_estimated_flag_is_yes_or_no(year):
    """The flag is explicit on every row, so nobody mistakes an estimate for an NZa figure."""
    flags = {row["estimated"] for _, row in _prestatie_rows(year)}
    assert flags <= {"yes", "no"}


@pytest.mark.parametrize("year", YEARS)
def test_rows_not_marked_estimated_cite_an_nza_or_vektis_document(year):
    """A verified figure is one read in a primary source: an NZa/Vektis document id or address."""
    uncited = [
        (name, row["code"], row.get("discipline", ""))
        for name, row in _prestatie_rows(year)
        if row["estimated"] == "no" and not PRIMARY_SOURCE.search(row["source"])
    ]
    assert uncited == []


def test_primary_source_pattern_accepts_document_ids_and_nza_addresses_only():
    """The check itself: NZa ids and NZa/Vektis addresses count; a practice website quoting them does not."""
    assert PRIMARY_SOURCE.search("TB/REG-21612-02 Prestatie- en tariefbeschikking verloskunde")
    assert PRIMARY_SOURCE.search("https://puc.overheid.nl/nza/doc/PUC_714757_22/1/")
    assert PRIMARY_SOURCE.search("https://www.nza.nl/zorgsectoren/geboortezorg/registreren-en-declareren")
    assert PRIMARY_SOURCE.search("https://www.vektis.nl/standaardisatie/codelijsten/COD367-VEKT")
    assert not PRIMARY_SOURCE.search("[P24] https://parterazoetermeer.nl/tarieven/")
    assert not PRIMARY_SOURCE.search("https://www.knov.nl/actueel/nieuws")


@pytest.mark.parametrize("year", YEARS)
def test_tariffs_are_positive_integer_cents(year):
    """Money is integer cents (STYLE.md); only the gynaecologist fee inside the hospital DBC is zero."""
    for row in _rows(year, "mono_prestaties.csv"):
        assert re.fullmatch(r"\d+", row["tariff_cents"]), (row["code"], row["tariff_cents"])
        cents = int(row["tariff_cents"])
        if row["discipline"] == "gynaecologist" and row["code"] in FEE_IN_HOSPITAL_TARIFF:
            assert cents == 0, row["code"]
        else:
            assert cents > 0, (row["code"], row["discipline"])
