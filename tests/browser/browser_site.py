"""What the browser tests share: the site under test, the test users' password and the login steps."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from integraal.store.database import Database

CHROMIUM = os.environ.get("INTEGRAAL_CHROMIUM", "/usr/bin/chromium")
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
# The flags this machine's Chromium needs as root in a closed network (see the machine notes in the docs).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "a password of some length"
USERS = {
    "backoffice": ("igo_admin", {"igo_id": "IGO-RIV"}),
    "bestuur": ("igo_board", {"igo_id": "IGO-01"}),
    "beheer": ("superuser", {}),
    "analist": ("analyst", {}),
    "verzekeraar": ("insurer", {"uzovi": "3311"}),
}


@dataclass(frozen=True)
class Site:
    url: str
    db: Database
    screenshots: Path | None


def log_in(page, username: str, password: str = PASSWORD, *, go: bool = True) -> None:
    """Fill in the login form (``go``: open it first; else the page is already on it)."""
    if go:
        page.goto("/login")
    page.get_by_label("Gebruikersnaam").fill(username)
    page.get_by_label("Wachtwoord").fill(password)
    page.get_by_role("button", name="Inloggen").click()
