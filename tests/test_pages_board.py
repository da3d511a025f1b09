"""The recruiter's board: columns and cards, the moves each role may make, moves one at a time
and in bulk, refusals told in words (and nothing changed), flags, both languages."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import time_machine

from api.pages.i18n import load_catalogue
from config.settings import PIPELINES_DIR
from tests.api_support import Api, Staff
from tests.factories import add_feedback, make_application, make_posting, make_user, now
from workflow.guards import GUARDS
from workflow.models import Application, Interview, InterviewInterviewer, Role
from workflow.pipeline_files import load_pipelines

WORDS = load_catalogue()
EN = {"Accept-Language": "en"}
HTMX = {"HX-Request": "true"}


def en(key: str) -> str:
    return WORDS[key]["en"]


def fr(key: str) -> str:
    return WORDS[key]["fr"]


INLINE = r"</?(?:a|strong|span|time|em|b|i|code)\b[^>]*>"


def text(html: str) -> str:
    """What a reader sees: tags dropped (inline ones without a space), entities decoded,
    spaces collapsed."""
    flat = re.sub(r"<[^>]+>", " ", re.sub(INLINE, "", html))
    return " ".join(unescape(flat).split())


def column(html: str, state: str) -> str:
    found = re.search(rf'<section class="column[^"]*" id="col-{state}".*?</section>', html, re.S)
    assert found, f"no column {state}"
    return found.group(0)


def card(html: str, application_id: int) -> str:
    found = re.search(
        rf'<article [^>]*data-application-id="{application_id}".*?</article>', html, re.S
    )
    assert found, f"no card {application_id}"
    return found.group(0)


def report(html: str) -> dict[str, str]:
    """The bulk report's line for each application id."""
    section = re.search(r'id="bulk-report".*?</section>', html, re.S)
    assert section, "no bulk report"
    return dict(re.findall(r'data-application-id="(\d+)">(.*?)</li>', section.group(0), re.S))


def buttons(fragment: str) -> set[str]:
    """The events a card offers: its forms' and greyed-out moves' data-event."""
    return set(re.findall(r'<form [^>]*data-event="([a-z_]+)"', fragment))


def _board(api: Api, staff: Staff, posting_id: int, **headers: str):
    return api.client.get(
        f"/app/postings/{posting_id}/board", headers=staff.page_headers | EN | headers
    )


def _move(api: Api, staff: Staff, app_id: int, event: str, version: int, **form: str):
    data = {"version": str(version), "view": "board"} | form
    return api.client.post(
        f"/app/applications/{app_id}/events/{event}",
        data=data,
        headers=staff.page_headers | EN | HTMX,
    )


def _state(api: Api, app_id: int) -> tuple[str, int]:
    with api.workflow.sessions.begin() as session:
        application = session.get_one(Application, app_id)
        return application.state, application.version


def _setup(api: Api):
    org = api.org()
    recruiter = api.staff(org, Role.recruiter)
    posting = make_posting(api.workflow, org, owner_id=recruiter.id)
    return org, recruiter, posting


def _fire(api: Api, staff: Staff, app_id: int, *events: str) -> None:
    for event in events:
        response = api.client.post(f"/applications/{app_id}/events/{event}", headers=staff.headers)
        assert response.status_code == 200, response.text


def test_the_board_has_a_column_per_stage_and_cards_with_the_moves_allowed_now(api: Api) -> None:
    _, recruiter, posting = _setup(api)
    fresh = make_application(api.workflow, posting)
    screened = make_application(api.workflow, posting)
    _fire(api, recruiter, screened.id, "screen")
    page = _board(api, recruiter, posting.id)
    assert page.status_code == 200
    headings = re.findall(r'<section class="column[^"]*" id="col-([a-z_]+)"', page.text)
    assert headings == [
        "received", "screening", "interview", "accepted", "training", "commitment", "completed",
    ]  # fmt: skip
    assert "Application received (1)" in text(column(page.text, "received"))
    received = column(page.text, "received")
    assert f'href="/app/applications/{fresh.id}"' in received
    assert buttons(card(received, fresh.id)) == {"screen", "reject", "withdraw"}
    assert buttons(card(page.text, screened.id)) == {"invite", "reject", "withdraw", "back"}
    # reject asks for its reason and the reason code the e-mail is chosen by
    reject = re.search(r'data-event="reject".*?</form>', card(received, fresh.id), re.S).group(0)
    assert 'name="reason"' in reject and 'name="rejection_reason"' in reject
    assert 'value="not_qualified"' in reject and 'value="posting_filled"' not in reject
    ways_out = text(page.text.split('id="ways-out-title"')[1])
    assert "Show “Not retained” (0)" in ways_out and "Show “Withdrawn” (0)" in ways_out


def test_hr_moves_cards_an_interviewer_only_sees_theirs_and_others_get_404(api: Api) -> None:
    org, _, posting = _setup(api)
    interviewed = make_application(api.workflow, posting)
    other = make_application(api.workflow, posting)
    interviewer = api.staff(org, Role.interviewer)
    add_feedback(api.workflow, interviewed, interviewer.user)

    hr_page = _board(api, api.staff(org, Role.hr), posting.id)
    assert buttons(card(hr_page.text, other.id)) == {"screen", "reject", "withdraw"}
    assert 'id="bulk-form"' in hr_page.text

    seen = _board(api, interviewer, posting.id)
    assert seen.status_code == 200
    assert f'data-application-id="{interviewed.id}"' in seen.text
    assert f'data-application-id="{other.id}"' not in seen.text
    assert not buttons(seen.text) and 'id="bulk-form"' not in seen.text
    assert en("board.viewer_note") in text(seen.text)

    for stranger in (api.staff(org, Role.interviewer), api.staff(org, Role.recruiter)):
        assert _board(api, stranger, posting.id).status_code == 404
        refused = _move(api, stranger, other.id, "screen", 1)
        assert refused.status_code == 404
    assert _state(api, other.id) == ("received", 1)


def test_a_move_on_the_board_changes_the_state_and_redraws_the_card_in_its_new_column(
    api: Api,
) -> None:
    _, recruiter, posting = _setup(api)
    application = make_application(api.workflow, posting)
    response = _move(api, recruiter, application.id, "screen", 1)
    assert response.status_code == 200
    assert response.text.startswith('<div id="board"')  # the board alone, swapped by htmx
    moved = card(column(response.text, "screening"), application.id)
    assert "autofocus" in moved and buttons(moved) >= {"invite"}
    assert f'data-application-id="{application.id}"' not in column(response.text, "received")
    flash = response.text.split('hx-swap-oob="innerHTML"')[1]
    assert "Start screening, now “Being reviewed”" in text(flash)
    assert _state(api, application.id) == ("screening", 2)
    detail = api.client.get(f"/applications/{application.id}", headers=recruiter.headers).json()
    assert detail["timeline"][-1]["event"] == "screen"

    plain = api.client.post(
        f"/app/applications/{application.id}/events/invite",
        data={"version": "2", "view": "board"},
        headers=recruiter.page_headers,
        follow_redirects=False,
    )  # a browser without htmx: back to the board
    assert plain.status_code == 303
    assert plain.headers["location"] == f"/app/postings/{posting.id}/board"
    assert _state(api, application.id) == ("interview", 3)


def test_a_move_needing_a_reason_asks_for_it_and_without_one_changes_nothing(api: Api) -> None:
    _, recruiter, posting = _setup(api)
    application = make_application(api.workflow, posting)
    refused = _move(api, recruiter, application.id, "reject", 1, rejection_reason="not_qualified")
    assert refused.status_code == 409
    error = re.search(r'data-testid="card-error">(.*?)</p>', card(refused.text, application.id))
    assert en("guards.reason_given") in unescape(error.group(1))
    assert _state(api, application.id) == ("received", 1)

    done = _move(
        api, recruiter, application.id, "reject", 1,
        reason="Pas de disponibilité le samedi", rejection_reason="no_availability",
    )  # fmt: skip
    assert done.status_code == 200
    assert _state(api, application.id) == ("rejected", 2)
    with api.workflow.sessions.begin() as session:
        assert session.get_one(Application, application.id).rejection_reason == "no_availability"
    # Rejected is a way out: counted, and its cards shown on demand, with reopen asking why.
    assert "Show “Not retained” (1)" in text(done.text)
    shown = _board(api, recruiter, posting.id, **{"HX-Request": "false"})
    assert f'data-application-id="{application.id}"' not in shown.text
    page = api.client.get(
        f"/app/postings/{posting.id}/board?show=rejected", headers=recruiter.page_headers | EN
    )
    rejected = card(column(page.text, "rejected"), application.id)
    assert buttons(rejected) == {"reopen"} and 'name="reason"' in rejected


def test_a_guard_refusal_is_told_in_words_and_changes_nothing(api: Api) -> None:
    org, recruiter, posting = _setup(api)
    application = make_application(api.workflow, posting)
    _fire(api, recruiter, application.id, "screen", "invite")
    page = _board(api, recruiter, posting.id)
    accept = re.search(r'class="move blocked" data-event="accept".*?</div>', page.text, re.S)
    assert accept and "disabled" in accept.group(0)
    assert en("guards.has_feedback") in unescape(accept.group(0))

    refused = _move(api, recruiter, application.id, "accept", 3)
    assert refused.status_code == 409
    assert en("guards.has_feedback") in text(card(refused.text, application.id))
    assert _state(api, application.id) == ("interview", 3)

    add_feedback(api.workflow, application, make_user(api.workflow, org, Role.interviewer))
    assert "accept" in buttons(card(_board(api, recruiter, posting.id).text, application.id))
    assert _move(api, recruiter, application.id, "accept", 3).status_code == 200
    assert _state(api, application.id) == ("accepted", 4)


def test_a_stale_or_impossible_move_says_so_and_changes_nothing(api: Api) -> None:
    _, recruiter, posting = _setup(api)
    application = make_application(api.workflow, posting)
    _fire(api, recruiter, application.id, "screen")  # someone else moved it meanwhile
    stale = _move(api, recruiter, application.id, "screen", 1)
    assert stale.status_code == 412
    assert en("errors.stale-version") in text(card(stale.text, application.id))
    impossible = _move(api, recruiter, application.id, "complete", 2)
    assert impossible.status_code == 409
    assert "not possible from “Being reviewed”" in text(card(impossible.text, application.id))
    assert _state(api, application.id) == ("screening", 2)


def test_a_bulk_move_reports_what_became_of_each_application(api: Api) -> None:
    org, recruiter, posting = _setup(api)
    first, second, ahead = (make_application(api.workflow, posting) for _ in range(3))
    _fire(api, recruiter, ahead.id, "screen")
    url = f"/app/postings/{posting.id}/board/events"
    headers = recruiter.page_headers | EN | HTMX
    response = api.client.post(
        url, data={"event": "screen", "ids": [first.id, second.id, ahead.id]}, headers=headers
    )
    assert response.status_code == 200
    lines = report(response.text)
    assert "moved" in text(lines[str(first.id)]) and "moved" in text(lines[str(second.id)])
    assert "not possible from “Being reviewed”" in text(lines[str(ahead.id)])
    assert [_state(api, a.id)[0] for a in (first, second, ahead)] == ["screening"] * 3
    assert ahead.id in [int(i) for i in re.findall(r'data-application-id="(\d+)"', column(
        response.text, "screening"))]  # fmt: skip

    reasonless = api.client.post(url, data={"event": "reject", "ids": [first.id]}, headers=headers)
    assert en("guards.reason_given") in text(report(reasonless.text)[str(first.id)])
    assert _state(api, first.id) == ("screening", 2)

    # The recruiter manages that other posting too: the API would move it; this board does not.
    elsewhere = make_posting(api.workflow, org, owner_id=recruiter.id)
    stray = make_application(api.workflow, elsewhere)
    refused = api.client.post(url, data={"event": "screen", "ids": [stray.id]}, headers=headers)
    assert en("board.bulk_not_here") in text(report(refused.text)[str(stray.id)])
    assert _state(api, stray.id) == ("received", 1)

    nothing = api.client.post(url, data={"event": "invite", "reason": "kept"}, headers=headers)
    assert nothing.status_code == 422
    assert en("board.bulk_none") in text(nothing.text)
    assert 'value="kept"' in nothing.text and '<option value="invite" selected>' in nothing.text


def test_cards_flag_idle_applications_and_missing_feedback(api: Api) -> None:
    org, recruiter, posting = _setup(api)
    waiting = make_application(api.workflow, posting)
    interviewed = make_application(api.workflow, posting)
    _fire(api, recruiter, interviewed.id, "screen", "invite")
    with api.workflow.sessions.begin() as session:  # an hour-long interview, begun 2 hours ago
        interview = Interview(
            organisation_id=org.id,
            application_id=interviewed.id,
            starts_at=now() - timedelta(hours=2),
            location="Bruxelles",
            created_at=now(),
        )
        session.add(interview)
        session.flush()
        panel = make_user(api.workflow, org, Role.interviewer)
        session.add(InterviewInterviewer(interview_id=interview.id, user_id=panel.id))
    page = _board(api, recruiter, posting.id)
    assert 'data-flag="feedback-missing"' in card(page.text, interviewed.id)
    assert "data-flag" not in card(page.text, waiting.id)
    with time_machine.travel(now() + timedelta(days=11), tick=False):
        later = _board(api, recruiter, posting.id)
    assert "idle 11 days" in text(card(later.text, waiting.id))  # received: reminder after 10 d
    assert "idle" not in text(card(later.text, interviewed.id))  # interview: after 21 days
    assert "11 days in this stage" in text(card(later.text, interviewed.id))


def test_the_board_speaks_french_and_english(api: Api) -> None:
    _, recruiter, posting = _setup(api)
    application = make_application(api.workflow, posting)
    french = api.client.get(
        f"/app/postings/{posting.id}/board",
        headers=recruiter.page_headers | {"Accept-Language": "fr-BE"},
    )
    seen = text(card(french.text, application.id))
    assert fr("events.screen") in seen and fr("board.in_stage_new") in seen
    assert "Candidature reçue (1)" in text(french.text)
    english = text(_board(api, recruiter, posting.id).text)
    assert en("events.screen") in english and "Application received (1)" in english


def test_every_guard_and_event_has_its_words() -> None:
    assert set(GUARDS) <= {k.removeprefix("guards.") for k in WORDS if k.startswith("guards.")}
    for pipeline in load_pipelines(PIPELINES_DIR).values():
        for event in pipeline.events:
            assert f"events.{event}" in WORDS, (pipeline.name, event)
