"""A small two-tenant world for the API tests: the documented examples (IGO Rivierenland) plus a second IGO
(IGO West) with its own providers, contract and pregnancies, decided once, and one user per role and tenant.

Insurer 3311 (Zilveren Kruis) insures pregnancies in both IGOs; insurer 7029 (Menzis) too. That makes every
tenant boundary visible: IGO vs IGO, provider vs provider, insurer vs insurer.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient

from dbutil import clone_database, fresh_database
from integraal.api import create_app
from integraal.api.settings import Settings
from integraal.services.decisions import decide_all
from integraal.services.imports import import_files
from integraal.services.users import add_user, issue_token
from integraal.store.database import Database

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
AS_OF = date(2026, 1, 1)
PSEUDONYM_KEY = b"test pseudonym key"

WEST = {
    "igos.csv": "igo_id,agb,name\nIGO-WEST,53000002,IGO Westkust\n",
    "providers.csv": "agb,name,discipline,city\n"
    "08000011,Verloskundigen Westkust,midwife,Den Helder\n"
    "06000011,Ziekenhuis West,hospital,Den Helder\n"
    "03000011,Gynaecologen West,gynaecologist,Den Helder\n"
    "33000011,Kraamzorg West,kraamzorg,Den Helder\n",
    "memberships.csv": "igo_id,agb,start_date,end_date\n"
    "IGO-WEST,08000011,2020-01-01,\n"
    "IGO-WEST,06000011,2020-01-01,\n"
    "IGO-WEST,03000011,2020-01-01,\n"
    "IGO-WEST,33000011,2020-01-01,\n",
    "contracts.csv": "contract_id,igo_id,uzovi,year,prestatie_code,tariff_cents,overlap_policy,"
    "partial_trajectory_policy\n"
    "MZ-WEST-2025,IGO-WEST,7029,2025,IG_PRENATAAL,121000,break_bundle,fallback\n"
    "MZ-WEST-2025,IGO-WEST,7029,2025,IG_NATAAL_EERSTELIJN,93000,break_bundle,fallback\n"
    "MZ-WEST-2025,IGO-WEST,7029,2025,IG_POSTNATAAL_EERSTELIJN,187000,break_bundle,fallback\n",
    "pregnancies.csv": "pregnancy_id,bsn,uzovi,igo_id,intake_date,due_date,labour_date,end_date,end_reason,"
    "referral_date,referral_stage\n"
    "W-0001,345678011,7029,IGO-WEST,2025-02-03,2025-09-10,,2025-09-08,birth,,\n"
    "W-0002,345678023,3311,IGO-WEST,2025-03-03,2025-10-05,,,,,\n",
    "activities.csv": "activity_id,bsn,pregnancy_id,agb,activity_code,date,quantity\n"
    "WV-1001,345678011,W-0001,08000011,VK_INTAKE,2025-02-03,\n"
    "WV-1002,345678011,W-0001,08000011,VK_CONTROLE,2025-04-07,1\n"
    "WV-1003,345678011,W-0001,08000011,VK_BEVALLING,2025-09-08,1\n"
    "WK-1001,345678011,W-0001,33000011,KZ_UUR,2025-09-09,24\n"
    "WV-2001,345678023,W-0002,08000011,VK_INTAKE,2025-03-03,\n"
    "WV-2002,345678023,,08000011,VK_CONTROLE,2025-05-05,1\n",
}

RIV_PREGNANCIES = {"Z-0001": "111222333", "Z-0002": "123456782", "Z-0003": "234567806"}
WEST_PREGNANCIES = {"W-0001": "345678011", "W-0002": "345678023"}
ALL_PREGNANCIES = RIV_PREGNANCIES | WEST_PREGNANCIES
UZOVI_OF = {"Z-0001": "3311", "Z-0002": "3311", "Z-0003": "7029", "W-0001": "7029", "W-0002": "3311"}
IGO_OF = dict.fromkeys(RIV_PREGNANCIES, "IGO-RIV") | dict.fromkeys(WEST_PREGNANCIES, "IGO-WEST")


@dataclass(frozen=True)
class Person:
    username: str
    role: str
    igo_id: str | None = None
    agb: str | None = None
    uzovi: str | None = None

    @property
    def password(self) -> str:
        return f"{self.username} has a long password"

    def own_pregnancies(self) -> set[str]:
        """The pregnancies this person may read (list and detail)."""
        if self.role == "superuser":
            return set(ALL_PREGNANCIES)
        if self.igo_id:
            return {p for p, igo in IGO_OF.items() if igo == self.igo_id}
        if self.uzovi:
            return {p for p, u in UZOVI_OF.items() if u == self.uzovi}
        return set()


PEOPLE = [
    Person("admin_riv", "igo_admin", igo_id="IGO-RIV"),
    Person("board_riv", "igo_board", igo_id="IGO-RIV"),
    Person("admin_west", "igo_admin", igo_id="IGO-WEST"),
    Person("member_linde", "member", agb="08000001"),
    Person("member_west", "member", agb="08000011"),
    Person("insurer_zk", "insurer", uzovi="3311"),
    Person("insurer_menzis", "insurer", uzovi="7029"),
    Person("analyst", "analyst"),
    Person("root", "superuser"),
]
BY_NAME = {p.username: p for p in PEOPLE}


@dataclass
class World:
    db: Database
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, username: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"} if username else {}


def build_world(folder: Path) -> World:
    """Import both IGOs, decide them as of 2026-01-01, add the people with a password and an API token."""
    data = folder / "data"
    shutil.copytree(EXAMPLES, data / "riv")
    (data / "west").mkdir(parents=True)
    for name, text in WEST.items():
        (data / "west" / name).write_text(text)
    db = fresh_database(folder, "api")
    reports = import_files(db, [*sorted((data / "riv").glob("*.csv")), *sorted((data / "west").glob("*.csv"))])
    assert all(r.ok for r in reports), [str(e) for r in reports for e in r.errors]
    decide_all(db, AS_OF)
    world = World(db, TestClient(create_app(db, settings=Settings(pseudonym_key=PSEUDONYM_KEY))))
    for person in PEOPLE:
        add_user(
            db,
            person.username,
            person.role,
            igo_id=person.igo_id,
            agb=person.agb,
            uzovi=person.uzovi,
            password=person.password,
        )
        world.tokens[person.username] = issue_token(db, person.username)
    return world


def clone_world(template: World, folder: Path) -> World:
    """A private copy of a built world (its database), for a test that writes: fast, same tokens."""
    db = clone_database(template.db, folder, "api")
    return World(db, TestClient(create_app(db, settings=Settings(pseudonym_key=PSEUDONYM_KEY))), dict(template.tokens))
