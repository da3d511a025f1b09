"""A candidate's request for a copy of their data (workflow/data_requests.py), on both backends:
one open request per candidate, due one calendar month later; HR is e-mailed at once and
reminded when it falls due, whatever became of the application; answering it ends the reminder
and lets the candidate ask again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

import notifications
from config.settings import Settings
from notifications.models import OutboxMessage
from tests.factories import STAFF, make_application, make_org, make_posting, make_user
from workflow import data_requests
from workflow.errors import NotFound
from workflow.models import (
    Application,
    DataRequest,
    Deadline,
    DeadlineStatus,
    EntityType,
    Organisation,
    Role,
)
from workflow.scheduler import sweep
from workflow.service import Workflow

# The last day of January: one month later is the last day of February.
NOW = datetime(2027, 1, 31, 10, 0, tzinfo=UTC)
DUE = datetime(2027, 2, 28, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_time() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def notified(workflow: Workflow, tmp_path: Path) -> Workflow:
    notifications.install(workflow.bus, Settings(var_dir=tmp_path))
    return workflow


def _ask(workflow: Workflow, application: Application) -> data_requests.Requested:
    with workflow.sessions.begin() as session:
        return data_requests.request_copy(session, workflow, application.id)


def _reminders(workflow: Workflow, application: Application) -> list[Deadline]:
    with workflow.sessions() as session:
        return list(
            session.scalars(
                select(Deadline).where(
                    Deadline.entity_type == EntityType.application,
                    Deadline.entity_id == application.id,
                    Deadline.kind == data_requests.DATA_REQUEST,
                )
            )
        )


def _sent(workflow: Workflow, org: Organisation) -> list[tuple[str, str]]:
    with workflow.sessions() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.organisation_id == org.id)
            .where(OutboxMessage.template.startswith("data_request"))
            .order_by(OutboxMessage.id)
        )
        return [(m.template, m.to_email) for m in rows]


def test_one_open_request_per_candidate_due_a_calendar_month_later(workflow: Workflow) -> None:
    org = make_org(workflow)
    first = make_application(workflow, make_posting(workflow, org), email="awa@example.org")
    second = make_application(workflow, make_posting(workflow, org), email="AWA@example.org")
    asked = _ask(workflow, first)
    assert asked.new and asked.request.requested_at == NOW and asked.request.due_at == DUE
    (reminder,) = _reminders(workflow, first)
    assert (reminder.status, reminder.due_at) == (DeadlineStatus.pending, DUE)
    assert (reminder.state, reminder.event, reminder.action) == ("data_request", None, None)
    again = _ask(workflow, second)  # the same person, from their other application's link
    assert not again.new and again.request.id == asked.request.id
    assert _reminders(workflow, second) == []


def test_hr_is_told_at_once_and_reminded_when_due_even_after_a_withdrawal(
    notified: Workflow,
) -> None:
    org = make_org(notified)
    hr = make_user(notified, org, Role.hr)
    make_user(notified, org, Role.recruiter)
    application = make_application(notified, make_posting(notified, org))
    _ask(notified, application)
    assert _sent(notified, org) == [("data_request", hr.email)]
    notified.fire(EntityType.application, application.id, "withdraw", STAFF)
    assert sweep(notified, now=DUE - timedelta(seconds=1), organisation_id=org.id).done == 0
    assert sweep(notified, now=DUE, organisation_id=org.id).done == 1
    assert _sent(notified, org) == [("data_request", hr.email), ("data_request_reminder", hr.email)]
    (reminder,) = _reminders(notified, application)
    assert reminder.status is DeadlineStatus.done


def test_an_answered_request_is_not_reminded_and_the_candidate_may_ask_again(
    notified: Workflow,
) -> None:
    org = make_org(notified)
    admin = make_user(notified, org, Role.admin)  # no HR: the admins hear it
    application = make_application(notified, make_posting(notified, org))
    asked = _ask(notified, application)
    with notified.sessions.begin() as session:
        answered = data_requests.answer(session, asked.request.id, org.id, NOW + timedelta(days=3))
        assert answered.answered_at == NOW + timedelta(days=3)
    (reminder,) = _reminders(notified, application)
    assert reminder.status is DeadlineStatus.cancelled
    sweep(notified, now=DUE, organisation_id=org.id)
    assert _sent(notified, org) == [("data_request", admin.email)]  # no reminder
    later = _ask(notified, application)
    assert later.new and later.request.id != asked.request.id
    assert [r.status for r in _reminders(notified, application)] == [
        DeadlineStatus.cancelled,
        DeadlineStatus.pending,
    ]


def test_a_reminder_found_answered_is_moot(notified: Workflow) -> None:
    """Answered by hand in the database (no `answer`): the sweeper skips it, says why."""
    org = make_org(notified)
    make_user(notified, org, Role.hr)
    application = make_application(notified, make_posting(notified, org))
    asked = _ask(notified, application)
    with notified.sessions.begin() as session:
        row = session.get_one(DataRequest, asked.request.id)
        row.answered_at = NOW
    assert sweep(notified, now=DUE, organisation_id=org.id).skipped == 1
    (reminder,) = _reminders(notified, application)
    assert reminder.status is DeadlineStatus.skipped and "answered" in reminder.last_error
    assert [t for t, _ in _sent(notified, org)] == ["data_request"]


def test_answering_another_organisations_request_is_not_found(workflow: Workflow) -> None:
    org = make_org(workflow)
    application = make_application(workflow, make_posting(workflow, org))
    asked = _ask(workflow, application)
    with workflow.sessions.begin() as session, pytest.raises(NotFound):
        data_requests.answer(session, asked.request.id, org.id + 1000, NOW)


# --- HR answers it, from the application's page (or the API) ----------------------------------


def test_hr_marks_the_copy_sent_on_the_application_page_which_ends_the_reminder(api) -> None:
    org = api.org()
    hr, recruiter = api.staff(org, Role.hr), api.staff(org, Role.recruiter)
    posting = make_posting(api.workflow, org, owner_id=recruiter.id)  # the recruiter sees it
    application = make_application(api.workflow, posting)
    asked = _ask(api.workflow, application).request
    url = f"/app/applications/{application.id}"
    english = {"Accept-Language": "en"}

    page = api.client.get(url, headers=hr.page_headers | english).text
    assert "Copy of personal data" in page and "due by 28 February 2027" in page
    assert "Copy of personal data" not in api.client.get(url, headers=recruiter.page_headers).text
    refused = api.client.post(f"{url}/data-request/answered", headers=recruiter.page_headers)
    assert refused.status_code == 403 and _reminders(api.workflow, application)[0].status is (
        DeadlineStatus.pending
    )

    done = api.client.post(
        f"{url}/data-request/answered", headers=hr.page_headers, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == f"{url}#data-requests"
    page = api.client.get(url, headers=hr.page_headers | english).text
    assert "sent on 31 January 2027" in page and "Mark the copy as sent" not in page
    assert _reminders(api.workflow, application)[0].status is DeadlineStatus.cancelled
    listed = api.client.get(f"/applications/{application.id}/data-requests", headers=hr.headers)
    assert [(r["id"], r["answered_at"] is not None) for r in listed.json()] == [(asked.id, True)]
    again = api.client.post(f"/applications/{application.id}/data-request/answered",
                            headers=hr.headers)  # fmt: skip
    assert again.status_code == 409 and again.json()["type"].endswith("/no-open-request")
