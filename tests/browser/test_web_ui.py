"""The web UI as its users work with it, in a real browser (issue 3 acceptance): log in, upload a file with
bad rows and read the report, open a broken-bundle pregnancy and read why, switch language, use the keyboard.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_site import PASSWORD, Site, log_in
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

# Two valid rows for Z-0002 (IGO Rivierenland) and two bad ones: a BSN failing the 11-test (row 3) and an
# activity code that is not in the catalogue (row 4). Rows count from 1 after the header (docs/formats.md).
UPLOAD = (
    "activity_id,bsn,pregnancy_id,agb,activity_code,date,quantity\n"
    "BR-1,123456782,Z-0002,08000001,VK_CONTROLE,2025-05-12,1\n"
    "BR-2,123456782,Z-0002,08000001,VK_CONTROLE,2025-06-09,1\n"
    "BR-3,123456789,Z-0002,08000001,VK_CONTROLE,2025-06-23,1\n"
    "BR-4,123456782,Z-0002,08000001,VK_ONBEKEND,2025-07-07,1\n"
)


def screenshot(site: Site, page: Page, name: str) -> None:
    if site.screenshots is not None:
        page.screenshot(path=str(site.screenshots / f"{name}.png"), full_page=True)


def test_login_refuses_a_wrong_password_and_then_opens_the_dashboard(site: Site, page: Page):
    log_in(page, "backoffice", "not the password")
    expect(page.get_by_role("alert")).to_contain_text("onjuist wachtwoord")
    screenshot(site, page, "01-login")
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dashboard")
    expect(page.get_by_text("backoffice · backoffice · IGO-RIV")).to_be_visible()


def test_a_page_asked_for_before_login_opens_after_login(page: Page):
    page.goto("/pregnancies/Z-0001")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    log_in(page, "backoffice", go=False)
    page.wait_for_url(re.compile(r"/pregnancies/Z-0001$"))


def test_upload_with_bad_rows_reports_them_and_stores_the_valid_rows_once(site: Site, page: Page, tmp_path: Path):
    file = tmp_path / "activiteiten.csv"
    file.write_text(UPLOAD)
    log_in(page, "backoffice")
    page.get_by_role("link", name="Aanleveren").click()
    page.get_by_label("Bestand met activiteiten (CSV)").set_input_files(str(file))
    page.get_by_role("button", name="Aanleveren en controleren").click()

    expect(page.get_by_test_id("accepted")).to_have_text("2")
    expect(page.get_by_test_id("rejected")).to_have_text("2")
    # Every problem of a row is listed: row 3 fails the 11-test and differs from the trajectory's BSN.
    rows = page.locator("#rejected-rows tbody tr")
    expect(rows).to_have_count(3)
    for index, (row, field, reason) in enumerate(
        [("3", "bsn", "11-test"), ("3", "bsn", "differs from the BSN"), ("4", "activity_code", "unknown activity")]
    ):
        cells = rows.nth(index).locator("td")
        expect(cells.nth(0)).to_have_text(row)
        expect(cells.nth(1)).to_have_text(field)
        expect(cells.nth(3)).to_contain_text(reason)
    screenshot(site, page, "05-upload-report")

    # The same file again: nothing doubles (the activity list of Z-0002 holds BR-1 and BR-2 once).
    page.get_by_label("Bestand met activiteiten (CSV)").set_input_files(str(file))
    page.get_by_role("button", name="Aanleveren en controleren").click()
    expect(page.get_by_test_id("rejected")).to_have_text("2")
    page.goto("/activities?pregnancy_id=Z-0002")
    expect(page.get_by_role("cell", name="BR-1", exact=True)).to_have_count(1)
    expect(page.get_by_role("cell", name="BR-2", exact=True)).to_have_count(1)
    expect(page.get_by_role("cell", name="BR-3", exact=True)).to_have_count(0)


def test_broken_bundle_pregnancy_shows_why_in_plain_language(site: Site, page: Page):
    log_in(page, "backoffice")
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Zwangerschappen").click()
    page.get_by_label("Besluit").select_option("fallback")
    page.get_by_role("button", name="Filteren").click()
    page.get_by_role("link", name="Z-0001").click()

    prenatal = page.locator("article.phase").filter(has=page.get_by_role("heading", name="prenataal"))
    expect(prenatal).to_contain_text("terugval: los declareren")
    expect(prenatal).to_contain_text("Echopunt Buiten")
    expect(prenatal).to_contain_text("is geen lid van de IGO")
    expect(prenatal).to_contain_text("bundelbreker")
    # The non-member's lane on the timeline says so, and its activity is reported, not claimed by the IGO.
    expect(page.locator(".tl-lane-outside")).to_contain_text("geen lid")
    outside_row = page.locator("tr.row-outside")
    expect(outside_row).to_contain_text("VK_GROEIECHO")
    expect(outside_row).to_contain_text("gemeld")
    screenshot(site, page, "04-pregnancy-broken-bundle")


def test_switching_language_translates_the_page_and_is_remembered(page: Page):
    log_in(page, "backoffice")
    page.goto("/pregnancies/Z-0001")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pregnancy Z-0001")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("article.phase").first).to_contain_text("is not a member of the IGO")
    expect(page.locator("article.phase").first).to_contain_text("bundle breaker")
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Pregnancies").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pregnancies")
    page.get_by_role("link", name="Nederlands").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Zwangerschappen")


def test_keyboard_reaches_the_content_and_every_field_has_a_label(page: Page):
    log_in(page, "backoffice")
    # The first Tab reaches the skip link; Enter moves the focus past the menu to the page's content.
    page.goto("/pregnancies")
    page.wait_for_load_state("load")
    page.evaluate("document.activeElement && document.activeElement.blur()")  # start from the document
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Naar de inhoud")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main#content")).to_be_focused()
    for path in ("/dashboard", "/pregnancies", "/pregnancies/Z-0001", "/upload", "/activities", "/audit"):
        page.goto(path)
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                 .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                 .map(el => el.name || el.id)"""
        )
        assert unlabelled == [], f"{path}: fields without a label: {unlabelled}"
        assert page.locator("h1").count() == 1, path
    # The filter form works from the keyboard alone: type, then Enter.
    page.goto("/pregnancies")
    page.get_by_label("Zoeken", exact=True).fill("Z-0003")
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Z-0003")).to_be_visible()
    expect(page.get_by_role("link", name="Z-0001")).to_have_count(0)


def test_board_sees_a_pseudonym_and_the_dashboard_of_its_igo(site: Site, page: Page):
    log_in(page, "bestuur")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dashboard")
    screenshot(site, page, "02-dashboard")
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Zwangerschappen").click()
    first_client = page.locator("table.data tbody tr").first.locator("td").first
    expect(first_client).to_contain_text("…")  # a pseudonym, never the nine-digit BSN
    assert not re.search(r"\b\d{9}\b", page.locator("table.data tbody").inner_text())
    screenshot(site, page, "03-pregnancies")


def test_screenshots_of_the_admin_pages(site: Site, page: Page):
    """The audit log and the English dashboard, for docs/screenshots (only saved with --screenshots)."""
    log_in(page, "beheer")
    page.goto("/audit")
    expect(page.get_by_role("heading", level=1)).to_have_text("Auditlog")
    expect(page.locator("table.data tbody tr").first).to_be_visible()
    screenshot(site, page, "06-audit-log")
    page.goto("/dashboard?year=2025&lang=en")
    expect(page.get_by_role("heading", level=2, name="Per IGO")).to_be_visible()
    screenshot(site, page, "07-dashboard-en")


def test_claims_worklist_groups_rejections_and_resends_a_line_in_one_click(site: Site, page: Page):
    """Issue 4: batches and their state, rejected lines by reason with the action, one-click resubmission."""
    log_in(page, "beheer")
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Declaraties").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Declaraties")
    expect(page.locator("#batches-heading")).to_be_visible()
    expect(page.get_by_text("beantwoord").first).to_be_visible()
    group = page.locator("details.work-group").filter(has_text="0611")
    expect(group.locator("summary")).to_contain_text("gegevens verbeteren en opnieuw indienen")
    if group.get_attribute("open") is None:
        group.locator("summary").click()
    screenshot(site, page, "08-claims-worklist")
    group.locator("input[type=checkbox]").first.check()
    group.get_by_role("button", name="Gekozen regels opnieuw indienen").click()
    expect(page.get_by_role("status").first).to_contain_text("1 regels in een nieuwe batch gezet")
    expect(page.get_by_text("klaar om te versturen").first).to_be_visible()


def test_board_compares_two_plans_and_sees_each_members_difference(site: Site, page: Page):
    """Issue 5: a board member compares plans and sees per-member differences (table, bars, waterfall)."""
    log_in(page, "bestuur")
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Verdeling", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Verdelen achter de voordeur")
    page.get_by_label("Jaar").select_option("2025")
    page.get_by_label("Cliëntprofielen met beschikbaarheid en kwaliteit").uncheck()
    page.get_by_role("button", name="Vergelijken").click()
    table = page.locator("#comparison")
    expect(table.locator("thead")).to_contain_text("Verschil: Vaste verdeelsleutel per discipline")
    expect(table.locator("thead")).not_to_contain_text("Cliëntprofielen")
    rows = table.locator("tbody tr")
    assert rows.count() >= 5
    first = rows.first.locator("td")
    # Every member row: the current plan, the new plan, and their difference in euros and percent.
    expect(first.nth(3)).to_contain_text("€")
    expect(page.locator("svg.chart")).to_have_count(2)
    expect(page.locator("#fall-heading")).to_contain_text(
        "Van Historisch (schaduwdeclaratie) naar Vaste verdeelsleutel"
    )
    screenshot(site, page, "09-distribution-compare")


def test_funding_scenarios_report_reads_for_a_board(site: Site, page: Page):
    """Issue 5, part 6: (a) monodisciplinary, (b) integral contract, (c) client profiles, per provider and insurer."""
    log_in(page, "bestuur")
    page.goto("/distribution?year=2025")
    page.get_by_role("link", name="Bekostigingsscenario’s voor de regio").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Bekostigingsscenario’s · IGO-01 2025")
    expect(page.locator("#providers-heading")).to_be_visible()
    expect(page.get_by_role("rowheader", name="laag risico, eerstelijns gebleven")).to_be_visible()
    expect(page.get_by_text("budgetneutraal")).to_be_visible()
    screenshot(site, page, "10-funding-scenarios")


def test_back_office_closes_the_year_and_a_member_statement_shows_the_total(site: Site, page: Page):
    """Issue 5, part 5: close a period with the chosen plan; statements per member, as a page and as PDF."""
    log_in(page, "backoffice")
    page.goto("/distribution?year=2025")
    page.get_by_label("2025 afsluiten met het plan dat het bestuur koos").select_option("verdeelsleutel")
    page.get_by_role("button", name="Periode afsluiten").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Verdelingsoverzichten")
    rows = page.locator("#statements tbody tr")
    expect(rows.first).to_be_visible()
    rows.first.get_by_role("link", name="open").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Verdelingsoverzicht 2025")
    total = page.locator("tfoot td").inner_text()
    assert total.startswith("€")
    screenshot(site, page, "11-statement")
    pdf = page.request.get(page.url + "/pdf")
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    # Closing the same year again is refused: a closed period never changes.
    page.goto("/distribution?year=2025")
    page.get_by_role("button", name="Periode afsluiten").click()
    expect(page.get_by_role("alert")).to_contain_text("already closed")


def test_board_reads_its_indicators_and_the_funnel_plot_of_one(site: Site, page: Page):
    """Issue 6: the IGO's indicators next to the reference; one indicator with its funnel plot (own IGO named,
    the others anonymous), quarterly trend and the guidance on what may and may not be concluded."""
    log_in(page, "bestuur")
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Inzicht").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Kwaliteit en uitkomsten · IGO-01")
    rows = page.locator("#indicators tbody tr")
    expect(rows).to_have_count(10)
    screenshot(site, page, "12-insight-overview")
    page.get_by_role("link", name="Keizersnede (totaal)").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Keizersnede (totaal)")
    funnel = page.locator("svg.chart").first
    expect(funnel).to_contain_text("IGO-01")
    expect(funnel).to_contain_text("99,8 %-grens (alarm)")
    units = page.locator("#units tbody")
    expect(units).to_contain_text("(uw IGO)")
    expect(units).to_contain_text("IGO A")
    expect(units).not_to_contain_text("IGO-02")  # the other IGOs are anonymous to an IGO
    expect(page.get_by_role("heading", name="Zo leest u dit")).to_be_visible()
    expect(page.get_by_text("Niet te concluderen")).to_be_visible()
    expect(page.get_by_role("heading", name="Trend per kwartaal · IGO-01")).to_be_visible()
    page.get_by_label("Gecorrigeerd voor casemix (O/E)").check()
    page.get_by_role("button", name="Tonen").click()
    expect(page.locator("#units thead")).to_contain_text("O/E")
    screenshot(site, page, "13-insight-funnel")


def test_an_analyst_sees_every_igo_but_never_a_small_number(site: Site, page: Page):
    """Issue 6: outside the IGO, cells under the minimum (10) are hidden, complementary cells too."""
    log_in(page, "analist")
    page.goto("/insight/indicators/perinatal_mortality?year=2025")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Perinatale sterfte")
    body = page.locator("#units tbody")
    expect(body).to_contain_text("IGO-02")
    expect(body).to_contain_text("verborgen")
    for cell in body.locator("td.num").all_inner_texts():
        for number in re.findall(r"(?<![\d,.])\d+(?![\d,.%‰])", cell.replace(".", "")):
            assert not 0 < int(number) < 10, cell
    screenshot(site, page, "14-insight-analyst")


def test_an_insurer_reads_the_casemix_of_its_insured_and_downloads_it(site: Site, page: Page):
    """Issue 6: casemix per IGO × insurer for the insurer's own insured, small numbers withheld, Excel export."""
    log_in(page, "verzekeraar")
    page.goto("/insight/casemix?year=2025")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Casemix · 2025")
    expect(page.get_by_text("U kijkt van buiten de IGO")).to_be_visible()
    profiles = page.locator("#casemix-profiles tbody")
    expect(profiles).to_contain_text("3311")
    expect(profiles).not_to_contain_text("7029")
    if site.screenshots is not None:
        page.screenshot(path=str(site.screenshots / "15-casemix.png"))  # the top: the page is long
    excel = page.request.get(page.get_by_role("link", name="Downloaden als Excel").get_attribute("href"))
    assert excel.ok and excel.body()[:2] == b"PK"
