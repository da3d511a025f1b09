"""What the browser tests stand on: a real `vivier serve` in a process of its own, Debian's
Chromium driven by the pinned Playwright, and the helpers every browser test uses (logging in
through the form, axe-core's accessibility check, screenshots, the e-mails the server sent).

The fixtures that hand these out are in conftest.py beside this file.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from api.cli import DEMO_PASSWORD
from api.pages.web import SESSION_COOKIE
from api.wiring import Container, build_container
from config.settings import Settings
from tests.conftest import in_ci
from tests.serve_support import free_port, wait_until_up

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
AXE_JS = HERE / "vendor" / "axe-4.14.1.min.js"
SCREENSHOTS_DIR = ROOT / "docs" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; never a browser Playwright downloads
# As root on a machine without a display or outside network (see .ci/run): no sandbox, no GPU,
# and none of Chromium's own calls home (refused here, and slow to fail).
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
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = ("serious", "critical")
VERSION = re.compile(r"\d+(?:\.\d+){1,3}")
# Demo accounts (workflow/demo_data.py), all with the password DEMO_PASSWORD.
AIBF_HR = "nadia.bensaid@aibf.example.org"
AIBF_RECRUITER = "julien.marchal@aibf.example.org"
AIBF_INTERVIEWER = "helene.piron@aibf.example.org"
OMCT_RECRUITER = "martin.keller@omct.example.org"


def chromium_or_skip() -> Path:
    """Debian's Chromium; skips the browser tests when it is missing, except under CI=true
    where that is a failure (.ci/run installs it)."""
    if CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    message = f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)"
    if in_ci():
        pytest.fail(f"{message} (CI=true: the browser tests may not be skipped)")
    pytest.skip(message)


def chromium_version(executable: Path = CHROMIUM) -> str:
    """The version `chromium --version` prints, e.g. '156.0.8078.108'."""
    printed = subprocess.run(
        [str(executable), "--version"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    found = VERSION.search(printed)
    assert found, f"no version in {printed!r}"
    return found.group(0)


# --- The server ---------------------------------------------------------------------------------


@dataclass
class Server:
    """A `vivier serve` process on its own SQLite database under `var_dir`, with the demo data,
    its scheduler and e-mail dispatcher, and e-mails written as .eml files to `mail_dir`."""

    url: str
    var_dir: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None
    settings: dict[str, str] = field(default_factory=dict)

    @classmethod
    def at(cls, var_dir: Path) -> Server:
        url = f"http://127.0.0.1:{free_port()}"
        settings = {
            "var_dir": str(var_dir),
            "database_url": "",  # the embedded default: SQLite in var_dir
            "email_backend": "folder",
            "mail_dir": str(var_dir / "mail"),
            "public_base_url": url,  # so the links in e-mails open this server
            # The dispatcher looks often, so a test waiting for an e-mail waits little.
            "dispatcher_interval_s": "0.5",
        }
        return cls(url=url, var_dir=var_dir, log=var_dir / "serve.log", settings=settings)

    @property
    def mail_dir(self) -> Path:
        return Path(self.settings["mail_dir"])

    def start(self) -> None:
        """Start `vivier serve` and wait until it answers /health (bounded; the log is shown
        when it does not start)."""
        vivier = Path(sys.executable).with_name("vivier")
        env = os.environ | {f"VIVIER_{key.upper()}": value for key, value in self.settings.items()}
        env["PYTHONUNBUFFERED"] = "1"  # the log file gets each line as it is written
        port = self.url.rsplit(":", 1)[1]
        with self.log.open("w") as output:
            # cwd = var_dir: no .env file of the developer's is read.
            self.process = subprocess.Popen(
                [str(vivier), "serve", "--port", port],
                cwd=self.var_dir, env=env, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            wait_until_up(self.process, self.url, self.log)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> int | None:
        """SIGTERM, as a service manager would; killed if it has not stopped in 30 s."""
        process = self.process
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"vivier serve did not stop on SIGTERM:\n{self.log_text()}")

    def log_text(self, since: int = 0) -> str:
        with self.log.open("rb") as handle:
            handle.seek(since)
            return handle.read().decode(errors="replace")

    def log_size(self) -> int:
        return self.log.stat().st_size

    def container(self) -> Container:
        """The same database, settings and files as the server, for a test's setup and checks
        (call `.engine.dispose()` when done; the `server_container` fixture does)."""
        return build_container(Settings(_env_file=None, **self.settings))

    def mails(self) -> list[EmailMessage]:
        """Every e-mail the server has sent so far, oldest first."""
        if not self.mail_dir.exists():
            return []
        files = sorted(self.mail_dir.glob("[0-9]*.eml"))
        return [_read_mail(path) for path in files]

    def wait_for_mail(self, match: Callable[[EmailMessage], bool], what: str) -> EmailMessage:
        """The first e-mail that `match` accepts, waiting for the dispatcher (which looks every
        0.5 s) at most 40 times 0.25 s; fails naming `what` and listing what was sent."""
        for _ in range(40):
            found = [message for message in self.mails() if match(message)]
            if found:
                return found[0]
            time.sleep(0.25)  # readiness of another process, bounded: not a timing assumption
        sent = "\n".join(f"  {m['To']}: {m['Subject']}" for m in self.mails()) or "  (none)"
        pytest.fail(f"no e-mail {what}; sent so far:\n{sent}")


def mail_text(message: EmailMessage) -> str:
    """The plain-text part of an e-mail, decoded."""
    part = message.get_body(("plain",))
    assert part is not None, f"no text part in {message['Subject']!r}"
    return part.get_content()


def _read_mail(path: Path) -> EmailMessage:
    with path.open("rb") as handle:
        return email.message_from_binary_file(handle, policy=email.policy.default)


# --- Pages --------------------------------------------------------------------------------------


def login(page: Page, email_address: str, password: str = DEMO_PASSWORD) -> None:
    """Log in through the real login form (the page's base URL is the server's) and wait for the
    page it leads to; fails with the form's message if the login was refused."""
    page.goto("/app/login")
    page.locator("#username").fill(email_address)
    page.locator("#password").fill(password)
    with page.expect_navigation():
        page.locator("form[action='/app/login'] button[type=submit]").click()
    refusal = page.locator("#login-error")
    if "/app/login" in page.url and refusal.count():
        pytest.fail(f"login as {email_address} refused: {refusal.inner_text()}")


@dataclass
class Logins:
    """Log each account in once through the form, then hand its session cookie to the other
    pages that need that account (a login costs the password hash's time, on purpose)."""

    cookies: dict[str, list[Any]] = field(default_factory=dict)

    def __call__(self, page: Page, email_address: str) -> None:
        if email_address not in self.cookies:
            login(page, email_address)
            session = [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
            assert session, f"no session cookie after logging in as {email_address}"
            self.cookies[email_address] = session
        else:
            page.context.add_cookies(self.cookies[email_address])


def axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.0/2.1 A and AA violations on the page as it is now (the pinned copy in
    vendor/, injected into the page: nothing is fetched from elsewhere)."""
    page.add_script_tag(path=AXE_JS)
    options = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
    return page.evaluate("options => axe.run(document, options).then(r => r.violations)", options)


def describe(violations: list[dict[str, Any]]) -> str:
    """Each violation's rule, impact, help and the elements it was found on, one block each."""
    blocks = []
    for violation in violations:
        nodes = "\n".join(_node(node) for node in violation["nodes"])
        blocks.append(
            f"- {violation['id']} ({violation['impact']}): {violation['help']}\n"
            f"  {violation['helpUrl']}\n{nodes}"
        )
    return "\n".join(blocks)


def _node(node: dict[str, Any]) -> str:
    """Where axe found it (CSS selector and the element's start) and what would fix it."""
    fixes = [f"      {line.strip()}" for line in node.get("failureSummary", "").splitlines()]
    return "\n".join([f"    {json.dumps(node['target'])} {node['html'][:120]}", *fixes])


def assert_accessible(page: Page, where: str = "") -> list[dict[str, Any]]:
    """Fails if axe finds a serious or critical violation; returns the milder ones."""
    violations = axe(page)
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"axe on {where or page.url}:\n{describe(blocking)}"
    return violations


# The form controls a person fills in (not hidden fields, not buttons), and the ones of them
# that no <label> names: a label of its own (for= or around it) with words in it.
UNLABELLED_JS = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => !['hidden', 'submit', 'button', 'reset', 'image'].includes(el.type))
  .filter(el => ![...el.labels].some(label => label.textContent.trim()))
  .map(el => el.outerHTML.slice(0, 160))"""


def assert_labelled(page: Page, where: str = "") -> int:
    """Fails naming every form control without a label; returns how many controls there are
    (so a test can tell it looked at a form, not at an empty page)."""
    unlabelled = page.evaluate(UNLABELLED_JS)
    assert not unlabelled, f"form fields without a label on {where or page.url}:\n" + "\n".join(
        unlabelled
    )
    controls = "input:not([type=hidden]):not([type=submit]), select, textarea"
    return page.locator(controls).count()


def assert_headings_in_order(page: Page, where: str = "") -> None:
    """One h1, first; going down, no level skipped (an h2 before any h3, and so on)."""
    levels = page.evaluate(
        "() => [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')]"
        ".filter(h => h.getClientRects().length).map(h => Number(h.tagName[1]))"
    )
    where = where or page.url
    assert levels and levels[0] == 1 and levels.count(1) == 1, f"{where}: headings {levels}"
    skips = [(a, b) for a, b in pairwise(levels) if b > a + 1]
    assert not skips, f"{where}: a heading level is skipped in {levels}"


def assert_no_sideways_scroll(page: Page, where: str = "") -> None:
    """Nothing on the page is wider than the window (wide tables scroll in their own box)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    window = page.viewport_size["width"] if page.viewport_size else 0
    assert width <= window, f"{where or page.url} is {width} px wide in a {window} px window"


def mark_document(page: Page) -> None:
    """Mark the document now shown: `same_document` then tells whether it is still the one
    (an htmx swap keeps it; a full page load replaces it, and the mark with it)."""
    page.evaluate("window.vivierTestMark = true")


def same_document(page: Page) -> bool:
    return page.evaluate("window.vivierTestMark === true")


# A tiny valid PDF (what uploads accept as a CV: it starts with %PDF- and ends with %%EOF).
PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
    b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)


def pdf_file(name: str = "cv.pdf") -> dict[str, Any]:
    """A file for `locator.set_input_files`, as a candidate would pick it from their disk."""
    return {"name": name, "mimeType": "application/pdf", "buffer": PDF}


@dataclass
class Screenshots:
    """PNGs of pages: into docs/screenshots/ with VIVIER_SCREENSHOTS=1 (the README's images),
    else into the test run's temporary folder, so a test run never changes the tree."""

    folder: Path

    @classmethod
    def for_run(cls, temporary: Path) -> Screenshots:
        if os.environ.get("VIVIER_SCREENSHOTS") == "1":
            SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
            return cls(SCREENSHOTS_DIR)
        return cls(temporary)

    def __call__(self, page: Page, name: str, *, full_page: bool = True) -> Path:
        target = self.folder / f"{name}.png"
        page.screenshot(path=target, full_page=full_page, animations="disabled")
        return target
