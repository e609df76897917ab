"""A real server and a real browser: Integraal on a loopback port (uvicorn in a thread), Debian's Chromium driven
by Playwright. The region is the documented examples (IGO Rivierenland, with a bundle breaker in Z-0001) plus a
synthetic region of three IGOs (so mirror information has units to compare), decided once.

Chromium comes from apt (``/usr/bin/chromium``; Playwright's own browser download does not work here). Without
it the tests are skipped on a developer's machine and fail in CI (``CI`` set), where ``.ci/run`` installs it.
``--screenshots DIR`` saves the main pages as PNG files (``docs/screenshots`` in the repository).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import uvicorn
from browser_site import CHROMIUM, CHROMIUM_ARGS, EXAMPLES, PASSWORD, USERS, Site

from dbutil import fresh_database, release
from integraal.api import create_app
from integraal.api.settings import Settings
from integraal.services.access import SYSTEM
from integraal.services.decisions import decide_all
from integraal.services.imports import import_files
from integraal.services.insurer_simulation import busiest_month, run_month
from integraal.services.users import add_user
from integraal.synth import generate_region, write_region


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--screenshots", default=None, help="Save screenshots of the main pages in this folder.")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Site]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run must install Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    folder = tmp_path_factory.mktemp("site")
    shutil.copytree(EXAMPLES, folder / "examples")
    paths = write_region(generate_region(7500, seed=11), folder / "region")
    db = fresh_database(folder, "site")
    reports = import_files(db, [*sorted((folder / "examples").glob("*.csv")), *paths.values()])
    assert all(r.ok for r in reports), [str(e) for r in reports for e in r.errors][:5]
    decide_all(db, date(2026, 1, 1))
    # A month of claims through the simulated insurer, with some lines rejected for a tariff the IGO can fix.
    month = busiest_month(db)
    assert month is not None
    run_month(db, SYSTEM, *month, hidden_outside_share=0.02, reject_share=0.03, reject_code="0611", seed=2)
    for username, (role, tenant) in USERS.items():
        add_user(db, username, role, password=PASSWORD, **tenant)
    port = _free_port()
    app = create_app(db, settings=Settings(pseudonym_key=b"browser tests"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    shots = request.config.getoption("--screenshots")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
    yield Site(f"http://127.0.0.1:{port}", db, Path(shots) if shots else None)
    server.should_exit = True
    thread.join(timeout=10)
    release(db)
    thread.join(timeout=10)
    db.dispose()


@pytest.fixture(scope="session")
def browser(site: Site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, site: Site):
    """A fresh browser context (no cookies) on a laptop-sized screen."""
    context = browser.new_context(viewport={"width": 1366, "height": 860}, base_url=site.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
