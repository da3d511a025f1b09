"""Fixtures of the browser tests: one real `vivier serve` (demo data, SQLite, its scheduler and
e-mail dispatcher) and one Chromium for all of tests/browser, a fresh browser context per test.

    server            Server (support.py): .url, .var_dir, .mail_dir, .mails(), .wait_for_mail()
    server_container  a Container on the server's own database and files (setup and checks)
    browser           Playwright's Browser: Debian's /usr/bin/chromium through the pinned driver
    page              a Page at 1280x900, locale en-GB, base URL = the server (page.goto("/app"))
    phone_page        the same at 375x812 as a phone (mobile viewport, touch)
    new_page          new_page(name) -> another such Page in a context of its own: another person
                      in the same test (a recruiter beside the candidate), checked like `page`
    screenshot        screenshot(page, name) -> Path of the PNG (docs/screenshots/ with
                      VIVIER_SCREENSHOTS=1, else the run's temporary folder)

Helpers to import from tests.browser.support: login(page, email), axe(page),
assert_accessible(page), the demo accounts (AIBF_HR, AIBF_RECRUITER...) and DEMO_PASSWORD.

The server and the browser are package-scoped: started once for the whole run's browser tests and
stopped when they end, so that neither the server's workers nor Playwright's event loop (its sync
API marks a loop as running in the main thread while it is alive) reach the other tests.
Each page fails its test if the page threw an uncaught JavaScript error, or if the server
logged a traceback while the test ran.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Error, Page, Playwright, sync_playwright

from api.wiring import Container
from tests.browser.support import CHROMIUM_ARGS, Screenshots, Server, chromium_or_skip

BROWSER_DIR = Path(__file__).parent
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {
    "viewport": {"width": 375, "height": 812},
    "is_mobile": True,
    "has_touch": True,
}
# Long enough for a loaded CI machine, short enough that a wrong selector fails fast.
TIMEOUT_MS = 10_000


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/browser `browser` (so `-m "not browser"` leaves them out)."""
    for item in items:
        if BROWSER_DIR in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test, so a page's teardown knows whether it failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    chromium_or_skip()  # no browser, no point in starting the server
    served = Server.at(tmp_path_factory.mktemp("serve"))
    served.start()
    yield served
    code = served.stop()
    log = served.log_text()
    assert code == 0, f"vivier serve ended with {code}:\n{log}"
    assert "Traceback" not in log, f"vivier serve logged an error:\n{log}"


@pytest.fixture(scope="package")
def server_container(server: Server) -> Iterator[Container]:
    container = server.container()
    yield container
    container.engine.dispose()


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    chromium_or_skip()
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=str(chromium_or_skip()), args=CHROMIUM_ARGS
    )
    yield launched
    launched.close()


@pytest.fixture(scope="package")
def screenshot(tmp_path_factory: pytest.TempPathFactory) -> Screenshots:
    return Screenshots.for_run(tmp_path_factory.mktemp("screenshots"))


@contextmanager
def _open_page(
    browser: Browser, server: Server, request: pytest.FixtureRequest, tmp_path: Path, **options: Any
) -> Iterator[Page]:
    """A page in a context of its own (no cookies from other tests), checked at its end."""
    context = browser.new_context(base_url=server.url, locale="en-GB", **options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"{error.name}: {error.message}"))
    log_start = server.log_size()
    yield page
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:
        _keep_evidence(page, tmp_path)
    context.close()
    assert not errors, f"uncaught JavaScript errors on the page: {errors}"
    logged = server.log_text(log_start)
    assert "Traceback" not in logged, f"the server logged an error during the test:\n{logged}"


def _keep_evidence(page: Page, tmp_path: Path) -> None:
    """On failure: where the page was and what it showed (printed with the test's report)."""
    try:
        tmp_path.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=tmp_path / "failure.png", full_page=True)
        (tmp_path / "failure.html").write_text(page.content())
    except Error as exc:  # the page may be gone with what made the test fail
        print(f"no failure screenshot: {exc}")
        return
    print(f"the page at failure: {page.url}; its screenshot and HTML: {tmp_path}/failure.*")


@pytest.fixture
def page(
    browser: Browser, server: Server, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Page]:
    with _open_page(browser, server, request, tmp_path, **DESKTOP) as opened:
        yield opened


@pytest.fixture
def phone_page(
    browser: Browser, server: Server, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Page]:
    with _open_page(browser, server, request, tmp_path, **PHONE) as opened:
        yield opened


@pytest.fixture
def new_page(
    browser: Browser, server: Server, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[str], Page]]:
    """Pages for the other people of a test, each in its own context (its own cookies, so its
    own login), at the desktop size; each is checked at the test's end like `page`, and keeps
    its failure evidence under the test's folder in a subfolder named after it."""
    with ExitStack() as pages:

        def open_another(name: str) -> Page:
            folder = tmp_path / name
            return pages.enter_context(_open_page(browser, server, request, folder, **DESKTOP))

        yield open_another
