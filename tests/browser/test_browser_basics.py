"""The browser tests' footing and the pages' shell in a real Chromium against a real `vivier
serve`: the pinned Playwright drives the installed Chromium; tests share the server's database
and see its e-mails; the login page and the error page pass axe-core (WCAG 2.1 A/AA) on a
desktop and a phone; logging in with the form, by mouse or by keyboard alone; a wrong password;
the language switch, remembered from page to page."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from api.wiring import Container
from tests.browser.support import (
    AIBF_HR,
    AIBF_RECRUITER,
    DEMO_PASSWORD,
    ROOT,
    Screenshots,
    Server,
    assert_accessible,
    chromium_version,
    login,
    mail_text,
)
from workflow.models import Application

ADMIN = "veronique.dufour@aibf.example.org"  # only this module logs in (and fails) as her


def pinned_playwright() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = [p for p in project["optional-dependencies"]["test"] if p.startswith("playwright==")]
    assert len(pins) == 1, f"playwright is pinned once in the test extra, not {pins}"
    return pins[0].removeprefix("playwright==")


def session_cookie(page: Page) -> dict | None:
    cookies = [c for c in page.context.cookies() if c["name"] == "vivier_session"]
    return cookies[0] if cookies else None


def test_the_pinned_playwright_drives_the_installed_chromium(browser) -> None:
    assert importlib.metadata.version("playwright") == pinned_playwright()
    assert browser.version == chromium_version()  # the very binary: /usr/bin/chromium


def test_tests_share_the_servers_database_and_its_e_mails_link_back_to_it(
    server: Server, server_container: Container
) -> None:
    with server_container.workflow.sessions() as session:
        first = select(Application).where(Application.status_token.is_not(None))
        token = session.scalars(first.order_by(Application.id)).first().status_token
    link = f"{server.url}/status/{token}"  # the demo's receipts, sent by the server's dispatcher
    server.wait_for_mail(lambda message: link in mail_text(message), f"with the link {link}")


@pytest.mark.parametrize("device", ["page", "phone_page"])
def test_the_login_page_passes_axe_on_a_desktop_and_a_phone(
    device: str, request: pytest.FixtureRequest, screenshot: Screenshots
) -> None:
    page: Page = request.getfixturevalue(device)
    page.goto("/app/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in to Vivier")
    assert_accessible(page)
    # Usable at 375 px: nothing wider than the screen, so no sideways scrolling.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"]
    if device == "page":
        screenshot(page, "01-login")  # the first of the README's (test_accessibility.py: the rest)


def test_the_error_page_passes_axe_and_leads_back(page: Page) -> None:
    response = page.goto("/app/no-such-page")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    assert_accessible(page)
    page.get_by_role("link", name="Back to the start page").click()
    expect(page).to_have_url(re.compile(r"/careers$"))  # a visitor's start page


def test_logging_in_through_the_form_lands_on_the_postings(page: Page, server: Server) -> None:
    assert session_cookie(page) is None
    login(page, AIBF_RECRUITER)
    assert page.url == f"{server.url}/app/postings"
    cookie = session_cookie(page)
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Lax"


def test_logging_in_with_the_keyboard_alone(page: Page, server: Server) -> None:
    page.goto("/app/login")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()
    for _ in range(10):  # on through the header's links to the form's first field
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "username":
            break
    expect(page.locator("#username")).to_be_focused()
    page.keyboard.type(AIBF_HR)
    page.keyboard.press("Tab")
    expect(page.locator("#password")).to_be_focused()
    page.keyboard.type(DEMO_PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{server.url}/app/postings"
    assert session_cookie(page) is not None


def test_a_wrong_password_is_said_beside_the_form_and_keeps_the_address(page: Page) -> None:
    page.goto("/app/login")
    page.get_by_label("E-mail address").fill(ADMIN)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    error = page.locator("#login-error")
    expect(error).to_have_text("The e-mail address or the password is wrong.")
    expect(error).to_have_attribute("role", "alert")  # read out by screen readers at once
    expect(page.get_by_label("E-mail address")).to_have_value(ADMIN)
    expect(page.get_by_label("E-mail address")).to_have_attribute("aria-describedby", "login-error")
    expect(page.get_by_label("Password")).to_have_value("")
    assert page.url.endswith("/app/login")
    assert session_cookie(page) is None
    assert_accessible(page, "the login page with its error")
    login(page, ADMIN)  # and the right password still works after a wrong one
    assert session_cookie(page) is not None


def test_the_language_switch_changes_the_page_and_is_remembered(page: Page) -> None:
    page.goto("/app/login")  # the browser asks for en-GB: English first
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in to Vivier")
    page.get_by_role("link", name="Français").click()
    expect(page).to_have_url(re.compile(r"/app/login$"))  # back on the same page
    expect(page.get_by_role("heading", level=1)).to_have_text("Se connecter à Vivier")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_label("Mot de passe")).to_be_visible()

    login(page, AIBF_RECRUITER)  # another page, still in French though the browser asks English
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("link", name="Aller au contenu")).to_be_attached()

    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto("/app/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in to Vivier")
