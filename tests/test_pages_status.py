"""The candidate's status page (issue 7, item 6), at the private link the e-mails give: where the
application stands in plain words and what comes next, following each move; the interview to
come; the stages reached, never a note or a rejection's reason; withdrawing once, after a
confirmation; asking for a copy of one's data (recorded, HR e-mailed, one-month deadline, and
"already recorded" the second time); the candidate's language, switchable; unknown links."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

import notifications
from notifications.models import OutboxMessage
from tests.api_support import Api
from tests.factories import STAFF, make_application, make_posting, make_user, now
from workflow import interviews
from workflow.interviews import ReminderHours
from workflow.models import (
    Application,
    DataRequest,
    Deadline,
    DeadlineStatus,
    EntityType,
    Note,
    Organisation,
    Role,
    TransitionRecord,
)

BRUSSELS = ZoneInfo("Europe/Brussels")
# A Sunday at the end of January: its month ends on the 28th of February.
NOW = datetime(2027, 1, 31, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_time() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def _applied(api: Api, language: str = "fr", **posting: Any) -> tuple[Application, str]:
    org = api.org(name="Ligue des droits humains", default_language="fr")
    call = make_posting(api.workflow, org, title="Accueil des nouveaux membres", **posting)
    application = make_application(api.workflow, call, language=language)
    assert application.status_token is not None
    return application, f"/status/{application.status_token}"


def _fire(api: Api, application: Application, event: str, **options: Any) -> None:
    api.workflow.fire(EntityType.application, application.id, event, STAFF, **options)


def _text_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert found, element_id
    return found.group(1).strip()


def test_the_page_follows_the_application_in_plain_words(api: Api) -> None:
    application, url = _applied(api, language="en")
    page = api.client.get(url)
    assert page.status_code == 200 and '<html lang="en">' in page.text  # the candidate's
    assert _text_of(page.text, "state-label") == "Application received"
    assert _text_of(page.text, "next-step") == "Next stage: Being reviewed."
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"

    _fire(api, application, "screen")
    _fire(api, application, "invite")
    page = api.client.get(url)
    assert _text_of(page.text, "state-label") == "Interview"
    assert _text_of(page.text, "state-message").startswith("We would like to meet you")
    assert _text_of(page.text, "next-step") == "Next stage: Accepted."
    reached = re.findall(r'<li data-state="(\w+)">', page.text)
    assert reached == ["received", "screening", "interview"]


def test_the_interview_to_come_shows_its_time_in_its_zone_and_its_place(api: Api) -> None:
    application, url = _applied(api, language="en")
    _fire(api, application, "screen")
    _fire(api, application, "invite")
    with api.workflow.sessions() as session:
        org = session.get_one(Organisation, application.organisation_id)
    panel = make_user(api.workflow, org, Role.interviewer)
    starts = datetime(2027, 2, 9, 14, 30, tzinfo=BRUSSELS)
    with api.workflow.sessions.begin() as session:
        interview = interviews.schedule(
            session, api.workflow, application.id, starts_at=starts, timezone="Europe/Brussels",
            location="Rue Berckmans 9, 1060 Bruxelles", interviewer_ids=[panel.id],
            actor=STAFF, organisation_id=application.organisation_id,
            reminders=ReminderHours(24, 24),
        )  # fmt: skip
    page = api.client.get(url)
    section = page.text[page.text.index('id="interviews"') :]
    assert "Tuesday, 9 February 2027 at 14:30 (Central European Standard Time)" in section
    assert "Rue Berckmans 9, 1060 Bruxelles" in section
    with api.workflow.sessions.begin() as session:
        interviews.cancel(
            session, api.workflow, interview.id, actor=STAFF,
            organisation_id=application.organisation_id, reason="moved",
        )  # fmt: skip
    assert 'id="interviews"' not in api.client.get(url).text


def test_a_rejection_shows_its_stage_never_its_reason_or_the_notes(api: Api) -> None:
    application, url = _applied(api, language="en")
    _fire(api, application, "reject", reason="Zyxwvut reason",
          payload={"rejection_reason": "not_qualified"})  # fmt: skip
    author = api.staff(api.org(), Role.hr).user
    with api.workflow.sessions.begin() as session:
        session.add(
            Note(
                organisation_id=application.organisation_id, application_id=application.id,
                author_id=author.id, body="Zyxwvut note", created_at=now(),
            )
        )  # fmt: skip
    page = api.client.get(url)
    assert _text_of(page.text, "state-label") == "Not retained"
    assert _text_of(page.text, "next-step") == "This is the last stage of this application."
    assert "Zyxwvut" not in page.text and "not_qualified" not in page.text
    assert 'id="withdraw-start"' not in page.text


def test_french_for_a_french_candidate_and_the_switch_is_honoured(api: Api) -> None:
    _, url = _applied(api, language="fr")
    french = api.client.get(url, headers={"Accept-Language": "en"})  # the candidate's first
    assert '<html lang="fr">' in french.text
    assert _text_of(french.text, "state-label") == "Candidature reçue"
    switch = re.search(r'href="(/lang/en\?next=[^"]+)"', french.text)
    assert switch, "no way to English"
    switched = api.client.get(switch.group(1))  # sets the language cookie, back to the page
    assert switched.url.path == url
    assert '<html lang="en">' in switched.text
    assert _text_of(switched.text, "state-label") == "Application received"


def test_withdrawing_asks_first_works_once_and_is_then_offered_no_more(api: Api) -> None:
    application, url = _applied(api, language="en")
    page = api.client.get(url)
    assert f'href="{url}/withdraw" id="withdraw-start"' in page.text
    confirm = api.client.get(f"{url}/withdraw")
    assert confirm.status_code == 200 and "Withdraw your application?" in confirm.text
    assert f'<form method="post" action="{url}/withdraw"' in confirm.text
    assert _state(api, application) == "received"  # asking changed nothing

    done = api.client.post(f"{url}/withdraw", follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"{url}?done=withdrawn"
    page = api.client.get(done.headers["location"])
    assert _text_of(page.text, "notice") == "Your application has been withdrawn."
    assert _text_of(page.text, "state-label") == "Withdrawn"
    assert 'id="withdraw-start"' not in page.text
    assert api.client.get(f"{url}/withdraw", follow_redirects=False).headers["location"] == url
    again = api.client.post(f"{url}/withdraw")
    assert again.status_code == 409
    assert "can no longer be withdrawn" in _text_of(again.text, "error")
    with api.workflow.sessions() as session:
        withdrawals = session.scalars(
            select(TransitionRecord).where(
                TransitionRecord.entity_id == application.id,
                TransitionRecord.entity_type == EntityType.application,
                TransitionRecord.event == "withdraw",
            )
        ).all()
    assert [(r.actor_kind.value, r.actor_id) for r in withdrawals] == [
        ("candidate", application.candidate_id)
    ]


def test_asking_for_a_copy_records_it_tells_hr_and_sets_a_one_month_deadline(api: Api) -> None:
    notifications.install(api.workflow.bus, api.settings)
    application, url = _applied(api, language="en")
    org_id = application.organisation_id
    with api.workflow.sessions() as session:
        org = session.get_one(Organisation, org_id)
    hr = api.staff(org, Role.hr)
    api.staff(org, Role.admin)  # HR is told, not the admins as well
    before = len(_messages(api, org_id))

    asked = api.client.post(f"{url}/data-request", follow_redirects=False)
    assert asked.status_code == 303 and asked.headers["location"] == f"{url}?done=data_request"
    page = api.client.get(asked.headers["location"])
    assert "we will send you a copy of your data within one month" in page.text
    assert "by 28 February 2027 at the latest" in _text_of(page.text, "data-request-open")
    assert 'id="data-request"' not in page.text  # no second button while it is open

    with api.workflow.sessions() as session:
        (request,) = session.scalars(select(DataRequest)).all()
        deadline = session.scalars(select(Deadline).where(Deadline.kind == "data_request")).one()
    assert request.requested_at == NOW and request.answered_at is None
    assert request.due_at == datetime(2027, 2, 28, 10, 0, tzinfo=UTC)  # one calendar month
    assert (deadline.entity_type, deadline.entity_id) == (EntityType.application, application.id)
    assert (deadline.status, deadline.due_at) == (DeadlineStatus.pending, request.due_at)
    told = _messages(api, org_id)[before:]
    assert [(m.template, m.to_email) for m in told] == [("data_request", hr.user.email)]
    assert "28 février 2027" in told[0].text_body  # in the organisation's language
    listed = api.client.get("/deadlines", headers=hr.headers).json()
    assert [(d["kind"], d["entity_id"]) for d in listed if d["kind"] == "data_request"] == [
        ("data_request", application.id)
    ]

    again = api.client.post(f"{url}/data-request", follow_redirects=False)
    assert again.headers["location"] == f"{url}?done=data_request_open"
    page = api.client.get(again.headers["location"])
    assert "You had already asked for a copy of your data" in _text_of(page.text, "notice")
    with api.workflow.sessions() as session:
        assert len(session.scalars(select(DataRequest)).all()) == 1
    assert len(_messages(api, org_id)) == before + 1


def test_an_unknown_link_is_a_404_page_and_changes_nothing(api: Api) -> None:
    application, _ = _applied(api, language="en")
    for method, path in (
        ("GET", "/status/not-a-real-token"),
        ("GET", "/status/not-a-real-token/withdraw"),
        ("POST", "/status/not-a-real-token/withdraw"),
        ("POST", "/status/not-a-real-token/data-request"),
    ):
        response = api.client.request(method, path, headers={"Accept-Language": "en"})
        assert response.status_code == 404, path
        assert "text/html" in response.headers["content-type"]
        assert "This link leads to no application" in response.text
    assert _state(api, application) == "received"
    with api.workflow.sessions() as session:
        assert session.scalars(select(DataRequest)).first() is None


def _state(api: Api, application: Application) -> str:
    with api.workflow.sessions() as session:
        return session.get_one(Application, application.id).state


def _messages(api: Api, organisation_id: int) -> list[OutboxMessage]:
    with api.workflow.sessions() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.organisation_id == organisation_id)
                .order_by(OutboxMessage.id)
            )
        )
