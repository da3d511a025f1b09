"""A volunteer's whole way in, in a real Chromium against a real `vivier serve`, as the people
who live it: a candidate applies on the careers page with a PDF and gets their status link (on
the page and by e-mail); the posting's recruiter moves the card on the board, step by step, to
`commitment`, each move swapped in place without a page load; a refused move (accepting before
any feedback) says why and leaves the card where it was; the recruiter schedules an interview
and the interviewer records feedback from their own login; the candidate's status page follows
every step in plain words; HR's dashboard counts the new volunteer, and the number opens the
list behind it.

One test, because it is one story: each step stands on the one before. It uses the demo's
États-Unis call (aibf-usa) and a candidate of its own; the other browser modules use other calls.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Locator, Page, expect

from api.wiring import Container
from tests.browser.support import (
    AIBF_HR,
    AIBF_INTERVIEWER,
    AIBF_RECRUITER,
    Server,
    login,
    mail_text,
    mark_document,
    pdf_file,
    same_document,
)
from workflow.pipeline import Pipeline

ORG = "Amnesty International Belgique francophone"
CALL = "Coordinateur·trice bénévole — États-Unis"
FIRST, LAST = "Aline", "Verbruggen"
NAME = f"{FIRST} {LAST}"
EMAIL = "aline.verbruggen@example.net"
BRUSSELS = ZoneInfo("Europe/Brussels")
# The has_feedback guard's words (api/pages/i18n/guards.toml), as the recruiter reads them.
NO_FEEDBACK_YET = (
    "No interviewer has recorded feedback on this application yet: "
    "an interviewer gives it on the application page first."
)


def test_a_volunteer_from_the_careers_page_to_commitment(
    page: Page,
    new_page: Callable[[str], Page],
    server: Server,
    server_container: Container,
) -> None:
    volunteer = server_container.workflow.pipelines["volunteer"]
    candidate = page  # no login: the careers page, then the status link

    hr = new_page("hr")
    login(hr, AIBF_HR)
    before = dashboard_counts(hr)

    # 1. The candidate applies, with a PDF, and gets their status link on the page and by e-mail.
    link = apply(candidate)
    assert link.startswith(f"{server.url}/status/")
    receipt = server.wait_for_mail(
        lambda m: EMAIL in m["To"] and link in mail_text(m), f"to {EMAIL} with {link}"
    )
    assert receipt["To"].addresses[0].display_name == NAME
    status = StatusPage(candidate, link, volunteer)
    status.shows("received")
    assert dashboard_counts(hr)["received"] == before["received"] + 1

    # 2. The recruiter logs in through the form and opens the posting's board.
    recruiter = new_page("recruiter")
    login(recruiter, AIBF_RECRUITER)
    board = Board.open(recruiter, CALL)
    application_id = board.card_in("received", NAME)

    board.move(application_id, "Start screening", "received", "screening")
    status.shows("screening")
    board.move(application_id, "Invite to interview", "screening", "interview")
    status.shows("interview")

    # 3. The refused move: no feedback yet, so accepting is offered greyed out, with the reason;
    # tried anyway (bulk), it is refused with the guard's words and the card stays.
    board.refuses_to_accept(application_id)
    status.shows("interview")

    # 4. An interview, on the application page, with the demo's interviewer on the panel; it
    # started ten minutes ago, so that its feedback may be given now.
    schedule_interview(recruiter, application_id)
    status.shows("interview")
    expect(candidate.locator("#interviews")).to_contain_text("Secrétariat national, Bruxelles")

    # 5. The interviewer logs in (their own browser) and records their feedback.
    interviewer = new_page("interviewer")
    login(interviewer, AIBF_INTERVIEWER)
    give_feedback(interviewer, application_id)

    # 6. Now accepting is possible; then training, then the commitment with its start date.
    board = Board.open(recruiter, CALL)
    board.move(application_id, "Accept", "interview", "accepted")
    status.shows("accepted")
    board.move(application_id, "Start training", "accepted", "training")
    status.shows("training")
    start = (datetime.now(BRUSSELS) + timedelta(days=7)).date()
    board.start_commitment(application_id, start.isoformat())
    status.shows("commitment")

    # 7. HR's dashboard counts the new volunteer; the number opens the list with her in it.
    after = dashboard_counts(hr)
    assert after["commitment"] == before["commitment"] + 1
    assert after["received"] == before["received"]
    assert after["total"] == before["total"] + 1
    hr.locator("#state-counts tr[data-state=commitment] td a").click()
    expect(hr).to_have_url(re.compile(r"/app/applications\?state=commitment$"))
    expect(hr.locator("#applications")).to_contain_text(NAME)


# --- The candidate ------------------------------------------------------------------------------


def apply(candidate: Page) -> str:
    """From /careers to the call's form, as a visitor clicks through; the status link shown."""
    candidate.goto("/careers")
    candidate.get_by_role("link", name=ORG).click()
    candidate.get_by_role("heading", name=CALL).get_by_role("link").click()
    expect(candidate.get_by_role("heading", level=1)).to_have_text(CALL)
    form = candidate.locator("#apply-form")
    form.get_by_label("First name").fill(FIRST)
    form.get_by_label("Last name").fill(LAST)
    form.get_by_label("E-mail address").fill(EMAIL)
    form.get_by_label("Language we write to you in").select_option("en")
    form.get_by_label("CV", exact=True).set_input_files(pdf_file("aline-verbruggen-cv.pdf"))
    # The consent in plain words: what the data is for, how long it is kept, what one can do.
    consent = form.get_by_label(re.compile(r"^I agree that .* only to assess my application"))
    expect(consent).not_to_be_checked()
    consent.check()
    form.get_by_role("button", name="Send my application").click()

    expect(candidate.get_by_role("heading", level=1)).to_have_text(
        "Thank you, your application has been received"
    )
    expect(candidate.locator("#applied")).to_contain_text(f"{FIRST}, your application to “{CALL}”")
    return candidate.locator("#status-link").inner_text()


class StatusPage:
    """The candidate's status page (no login: the link is the key), read after each step."""

    def __init__(self, page: Page, link: str, pipeline: Pipeline) -> None:
        self.page, self.link, self.pipeline = page, link, pipeline

    def shows(self, state: str) -> None:
        """The stage in the candidate's words (English: the language they chose)."""
        self.page.goto(self.link)
        stage = self.pipeline.states[state]
        expect(self.page.locator("#state-label")).to_have_text(stage.label["en"])
        expect(self.page.locator("#state-message")).to_have_text(stage.candidate["en"])
        expect(self.page.locator("#timeline")).to_contain_text(stage.label["en"])


# --- The recruiter ------------------------------------------------------------------------------


class Board:
    """The posting's board in the recruiter's browser."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.url = page.url

    @classmethod
    def open(cls, page: Page, title: str) -> Board:
        """Postings list -> the posting -> its board, by the links a recruiter clicks."""
        page.goto("/app/postings")
        page.locator("#postings").get_by_role("link", name=title, exact=True).click()
        page.locator("#board-link").click()
        expect(page.locator("#board-title")).to_contain_text(title)
        return cls(page)

    def column(self, state: str) -> Locator:
        return self.page.locator(f"#col-{state}")

    def card(self, application_id: int) -> Locator:
        return self.page.locator(f"#card-{application_id}")

    def card_in(self, state: str, name: str) -> int:
        card = self.column(state).locator("[data-testid=card]", has_text=name)
        expect(card).to_have_count(1)
        return int(card.get_attribute("data-application-id") or 0)

    def move(self, application_id: int, button: str, source: str, dest: str) -> None:
        """Click the card's button: the card is then in the next column, the page the same."""
        mark_document(self.page)
        card = self.column(source).locator(f"#card-{application_id}")
        card.get_by_role("button", name=button, exact=True).click()
        self.moved(application_id, dest)

    def start_commitment(self, application_id: int, start: str) -> None:
        """The move that needs a start date: its small form opens on the card."""
        mark_document(self.page)
        card = self.column("training").locator(f"#card-{application_id}")
        card.locator("details[data-event=start_commitment] summary").click()
        card.get_by_label("Start date of the commitment").fill(start)
        card.get_by_role("button", name="Confirm: Start the commitment").click()
        self.moved(application_id, "commitment")

    def moved(self, application_id: int, dest: str) -> None:
        expect(self.column(dest).locator(f"#card-{application_id}")).to_be_visible()
        expect(self.card(application_id)).to_have_count(1)  # in that column only
        label = self.page.locator(f"#col-{dest}-title").inner_text().split(" (")[0]
        expect(self.page.locator("#flash")).to_contain_text(f"now “{label}”")
        assert self.page.url == self.url, "the board's address changed"
        assert same_document(self.page), "the move reloaded the whole page"

    def refuses_to_accept(self, application_id: int) -> None:
        card = self.column("interview").locator(f"#card-{application_id}")
        blocked = card.locator(".move.blocked[data-event=accept]")
        expect(blocked.get_by_role("button", name="Accept")).to_be_disabled()
        expect(blocked.locator(".why")).to_have_text(NO_FEEDBACK_YET)

        mark_document(self.page)
        card.get_by_label(f"Select {NAME}").check()
        bulk = self.page.locator("#bulk-form")
        bulk.get_by_label("Move", exact=True).select_option("accept")
        bulk.get_by_role("button", name="Move the selected").click()
        report = self.page.locator(f"#bulk-report li[data-application-id='{application_id}']")
        expect(report).to_have_class(re.compile(r"\brefused\b"))
        expect(report).to_contain_text(NO_FEEDBACK_YET)
        expect(self.page.locator("#flash")).to_contain_text("Moved: 0. Refused: 1.")
        expect(self.column("interview").locator(f"#card-{application_id}")).to_be_visible()
        assert same_document(self.page), "the refused move reloaded the whole page"


def schedule_interview(recruiter: Page, application_id: int) -> None:
    """On the application page (the card's name leads there): a time, a place, the panel."""
    recruiter.locator(f"#card-{application_id}").get_by_role("link", name=NAME).click()
    expect(recruiter.get_by_role("heading", level=1)).to_have_text(NAME)
    recruiter.get_by_text("Schedule an interview", exact=True).click()
    form = recruiter.locator("#schedule-form")
    started = datetime.now(BRUSSELS) - timedelta(minutes=10)
    form.get_by_label("Date and time").fill(started.strftime("%Y-%m-%dT%H:%M"))
    expect(form.get_by_label("Time zone")).to_have_value("Europe/Brussels")
    form.get_by_label("Duration (minutes)").fill("60")
    form.get_by_label("Place").fill("Secrétariat national, Bruxelles")
    form.get_by_label(re.compile(r"Hélène Piron")).check()
    form.get_by_role("button", name="Schedule the interview").click()
    interview = recruiter.locator("[data-testid=interview]")
    expect(interview).to_have_count(1)
    expect(interview).to_contain_text("Hélène Piron — feedback awaited")
    expect(interview).to_contain_text("Secrétariat national, Bruxelles")


# --- The interviewer ----------------------------------------------------------------------------


def give_feedback(interviewer: Page, application_id: int) -> None:
    """From the interviewer's postings to the card (they see the board, not its buttons), to
    the application page and its feedback form."""
    board = Board.open(interviewer, CALL)
    card = board.card(application_id)
    expect(card.get_by_role("button")).to_have_count(0)
    card.get_by_role("link", name=NAME).click()
    expect(interviewer).to_have_url(re.compile(rf"/app/applications/{application_id}$"))
    expect(interviewer.get_by_role("heading", level=1)).to_have_text(NAME)
    expect(interviewer.locator("#moves")).to_have_count(0)  # interviewers move nothing
    form = interviewer.locator("form.feedback-form")
    form.get_by_label("Yes", exact=True).check()
    form.get_by_label("Notes").fill("Knows US constitutional law well; writes clear French.")
    form.get_by_role("button", name="Record my feedback").click()
    feedback = interviewer.locator("[data-testid=feedback]")
    expect(feedback).to_contain_text("Hélène Piron")
    expect(feedback).to_contain_text("Yes")
    expect(interviewer.locator("[data-testid=interview]")).to_contain_text(
        "Hélène Piron — feedback given"
    )
    expect(interviewer.locator("form.feedback-form")).to_have_count(0)  # given once


# --- HR -----------------------------------------------------------------------------------------


def dashboard_counts(hr: Page) -> dict[str, int]:
    """The dashboard's figures as HR reads them: applications in all, and by state."""
    hr.goto("/app/dashboard")
    expect(hr.get_by_role("heading", level=1)).to_have_text("Dashboard")
    rows = hr.locator("#state-counts tbody tr")
    counts = {
        row.get_attribute("data-state") or "": int(row.locator("td").inner_text())
        for row in rows.all()
    }
    counts["total"] = int(hr.locator("#total-applications strong").inner_text())
    return counts
