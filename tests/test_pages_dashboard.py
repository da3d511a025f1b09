"""The HR dashboard, on SQLite and PostgreSQL: counts that follow the moves, the funnel and the
time in each stage drawn as SVG with their figures, what needs attention with links to the lists
behind the numbers, CSV downloads, and who may see it."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from dateutil.relativedelta import relativedelta
from sqlalchemy import update

from notifications.models import MessageStatus, OutboxMessage, RecipientKind
from tests.api_support import Api, Staff
from tests.factories import STAFF, add_feedback, make_application, make_posting, make_user
from workflow.models import Deadline, DeadlineStatus, EntityType, Role

T0 = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
ASKED = T0 + timedelta(days=20)
DAY = timedelta(days=1)
APP = EntityType.application


def at(when: datetime) -> Any:
    return time_machine.travel(when, tick=False)


def fire(api: Api, application: Any, event: str, **kwargs: Any) -> None:
    api.workflow.fire(APP, application.id, event, STAFF, **kwargs)


class World:
    """A volunteer call: two applications screened after 2 and 3 days, a volunteer screened
    after 5 (an odd count of stays, so both databases agree on the median: 3 days) whose
    commitment ends 30 days after ASKED, one application still waiting since T0; a
    staff call with one application; an e-mail that could not be delivered and a deadline
    that failed."""

    def __init__(self, api: Api) -> None:
        workflow = api.workflow
        with at(T0):
            self.org = api.org()
            self.call = make_posting(workflow, self.org, title="Coordination jeunesse")
            self.staff_call = make_posting(workflow, self.org, pipeline="staff", title="Director")
            self.screened = [make_application(workflow, self.call) for _ in range(2)]
            self.waiting = make_application(workflow, self.call)
            self.volunteer = make_application(workflow, self.call)
            self.applicant = make_application(workflow, self.staff_call)
        for days, application in zip((2, 3), self.screened, strict=True):
            with at(T0 + days * DAY):
                fire(api, application, "screen")
        with at(T0 + 5 * DAY):
            fire(api, self.volunteer, "screen")
            fire(api, self.volunteer, "invite")
            add_feedback(workflow, self.volunteer, make_user(workflow, self.org, Role.interviewer))
            fire(api, self.volunteer, "accept")
            fire(api, self.volunteer, "start_training")
            start = ASKED.date() + timedelta(days=30) - relativedelta(months=24)
            fire(api, self.volunteer, "start_commitment", payload={"commitment_start": str(start)})
        self.commitment_end = ASKED.date() + timedelta(days=30)
        with at(T0 + 6 * DAY), workflow.sessions.begin() as session:
            self.message = OutboxMessage(
                organisation_id=self.org.id, application_id=self.waiting.id,
                dedup_key=f"dashboard:{self.waiting.id}", template="application_received",
                language="fr", recipient_kind=RecipientKind.candidate,
                to_email="bounced@example.org", to_name="Bounced Person",
                subject="Votre candidature", text_body="", html_body="",
                status=MessageStatus.dead, attempts=5, last_error="550 mailbox unavailable",
                next_attempt_at=T0, created_at=T0,
            )  # fmt: skip
            session.add(self.message)
            session.execute(
                update(Deadline)
                .where(Deadline.entity_type == APP, Deadline.entity_id == self.applicant.id)
                .values(status=DeadlineStatus.failed, attempts=5, last_error="SMTP down")
            )

    def staff(self, api: Api, role: str = "hr") -> Staff:
        return api.staff(self.org, role)


@pytest.fixture
def world(api: Api) -> World:
    return World(api)


def in_english(member: Staff) -> dict[str, str]:
    return member.page_headers | {"Cookie": member.page_headers["Cookie"] + "; vivier_lang=en"}


def dashboard(api: Api, member: Staff, english: bool = True) -> str:
    headers = in_english(member) if english else member.page_headers
    response = api.client.get("/app/dashboard", headers=headers)
    assert response.status_code == 200, response.text
    return response.text


def section(html: str, name: str) -> str:
    return html.split(f'<section id="{name}"')[1].split("</section>")[0]


def count_of(html: str, state: str) -> str:
    """The number shown for `state` in the counts by state (a link, or 0)."""
    table = html.split('id="state-counts"')[1].split("</table>")[0]
    row = re.search(rf'<tr data-state="{state}"[^>]*>(.*?)</tr>', table, re.S)
    assert row, state
    return re.sub(r"<[^>]+>", "", row.group(1).split("<td>")[1]).strip()


def test_the_counts_follow_the_moves_and_link_to_their_applications(api: Api, world: World) -> None:
    with at(ASKED):
        hr = world.staff(api)
        before = dashboard(api, hr)
        assert (count_of(before, "received"), count_of(before, "screening")) == ("2", "2")
        assert re.search(r'id="total-applications"><strong>5</strong>', before)
        fire(api, world.screened[0], "invite")
        after = dashboard(api, hr)
        assert (count_of(after, "screening"), count_of(after, "interview")) == ("1", "1")
        assert 'href="/app/applications?state=interview"' in after
        listed = api.client.get("/app/applications?state=interview", headers=hr.page_headers)
        rows = re.findall(r'data-testid="application-row"', listed.text)
        assert len(rows) == 1 and f'href="/app/applications/{world.screened[0].id}"' in listed.text


def test_the_charts_are_svg_with_their_figures_also_in_a_table(api: Api, world: World) -> None:
    with at(ASKED):
        html = dashboard(api, world.staff(api))
    funnel = html.split('data-testid="funnel-volunteer"')[1].split("</table>")[0]
    svg = re.search(r"<svg[^>]*>.*?</svg>", funnel, re.S).group(0)
    assert 'role="img"' in svg
    assert 'aria-labelledby="funnel-volunteer-title funnel-volunteer-desc"' in svg
    assert '<title id="funnel-volunteer-title">' in svg and "<desc" in svg
    # Four reached "received", three screening, one each later stage up to the commitment.
    bars = re.findall(r'<g class="bar" data-value="([^"]*)">', svg)
    assert bars == ["4", "3", "1", "1", "1", "1", "0"]
    # The table: the same figures, and how many went on (1 of the 3 screened was invited).
    assert '<th scope="row">Being reviewed</th><td>3</td><td>33%</td>' in funnel

    stages = html.split('data-testid="stages-volunteer"')[1].split("</table>")[0]
    received = re.search(r'<tr data-state="received"><th scope="row">[^<]*</th><td>([^<]*)</td>',
                         stages)  # fmt: skip
    assert received.group(1) == "3 days"  # screened after 2, 3 and 5 days
    assert 'data-value="3 days"' in stages  # the same figure drawn beside its bar
    assert "stages-staff" in html and "funnel-staff" in html


def test_what_needs_attention_is_listed_and_linked(api: Api, world: World) -> None:
    with at(ASKED):
        hr = world.staff(api)
        html = dashboard(api, hr)
        waiting = api.client.get("/app/applications?idle_days=10", headers=hr.page_headers).text
    # Everyone unmoved for more than 10 days in a stage waiting for an answer: not the volunteer
    # in commitment, who has theirs.
    idle = {a.id for a in (*world.screened, world.waiting, world.applicant)}
    assert re.search(r'id="waiting-count"><strong>(\d+)</strong>', html).group(1) == "4"
    assert 'href="/app/applications?idle_days=10" id="waiting-count"' in html
    listed = re.findall(r'<tr id="application-(\d+)" data-testid="application-row">', waiting)
    assert {int(i) for i in listed} == idle

    commitments = section(html, "commitments")
    assert f'href="/app/applications/{world.volunteer.id}"' in commitments
    assert "<td>30</td>" in commitments
    assert re.search(r'id="commitments-count"><strong>1</strong>', html)

    emails = section(html, "failed-emails")
    assert "bounced@example.org" in emails and "550 mailbox unavailable" in emails
    assert re.search(r'id="failed-emails-count"><strong>1</strong>', html)
    deadlines = section(html, "failed-deadlines")
    assert (
        "SMTP down" in deadlines and f'href="/app/applications/{world.applicant.id}"' in deadlines
    )


def test_a_failed_e_mail_can_be_sent_again(api: Api, world: World) -> None:
    with at(ASKED):
        hr = world.staff(api)
        url = f"/app/dashboard/messages/{world.message.id}/resend"
        sent = api.client.post(url, headers=hr.page_headers, follow_redirects=False)
        assert sent.status_code == 303
        assert "bounced@example.org" not in section(dashboard(api, hr), "failed-emails")
        again = api.client.post(url, headers=in_english(hr), follow_redirects=False)
        assert again.status_code == 409 and "text/html" in again.headers["content-type"]


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment;")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_each_report_downloads_as_the_apis_csv(api: Api, world: World) -> None:
    with at(ASKED):
        hr = world.staff(api)
        html = dashboard(api, hr)
        for report in ("pipeline", "funnel", "time-in-stage", "commitments", "idle"):
            assert f'href="/app/dashboard/{report}.csv' in html
            page = api.client.get(f"/app/dashboard/{report}.csv", headers=hr.page_headers)
            by_api = api.client.get(f"/reports/{report}", headers=hr.headers | {
                "Accept": "text/csv"})  # fmt: skip
            assert _csv(page) == _csv(by_api), report
        idle = _csv(api.client.get("/app/dashboard/idle.csv", headers=hr.page_headers))
    assert {int(r["application_id"]) for r in idle} == {
        a.id for a in (*world.screened, world.waiting, world.applicant)
    }


def test_only_admin_and_hr_see_the_dashboard(api: Api, world: World) -> None:
    with at(ASKED):
        assert "Tableau de bord" in dashboard(api, world.staff(api, "admin"), english=False)
        for role in ("recruiter", "interviewer"):
            member = world.staff(api, role)
            for url in ("/app/dashboard", "/app/dashboard/idle.csv"):
                refused = api.client.get(url, headers=member.page_headers)
                assert refused.status_code == 403, (role, url)
                assert "Coordination jeunesse" not in refused.text


def test_the_dashboard_speaks_french_and_english(api: Api, world: World) -> None:
    with at(ASKED):
        hr = world.staff(api)
        french, english = dashboard(api, hr, english=False), dashboard(api, hr)
    assert "Entonnoir" in french and "Temps passé à chaque étape" in french
    assert "3 jours" in french and "E-mails non délivrés" in french
    assert "Funnel" in english and "Time in each stage" in english and "3 days" in english
