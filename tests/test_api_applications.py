"""Applications over HTTP: moving candidates, If-Match, Idempotency-Key, bulk, notes, lists."""

from datetime import date, timedelta

import time_machine

from tests.api_support import Api, problem
from tests.factories import add_feedback, make_application, make_posting, make_user, now
from workflow.models import Role


def _setup(api: Api, pipeline: str = "volunteer"):
    org = api.org()
    recruiter = api.staff(org, "recruiter")
    posting = make_posting(api.workflow, org, pipeline=pipeline, owner_id=recruiter.id)
    return org, recruiter, posting


def _fire(api: Api, staff, app_id: int, event: str, **body):
    return api.client.post(
        f"/applications/{app_id}/events/{event}", json=body or None, headers=staff.headers
    )


def test_a_recruiter_moves_a_volunteer_to_commitment(api: Api) -> None:
    org, recruiter, posting = _setup(api)
    application = make_application(api.workflow, posting)
    for event in ("screen", "invite"):
        assert _fire(api, recruiter, application.id, event).status_code == 200
    add_feedback(api.workflow, application, make_user(api.workflow, org, Role.interviewer))
    add_feedback(api.workflow, application, make_user(api.workflow, org, Role.interviewer))
    for event in ("accept", "start_training"):
        response = _fire(api, recruiter, application.id, event)
        assert response.status_code == 200, response.text
    start = date.today() + timedelta(days=7)
    response = _fire(
        api, recruiter, application.id, "start_commitment",
        payload={"commitment_start": start.isoformat()},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["to_state"] == "commitment"
    assert response.headers["ETag"] == f'"{response.json()["version"]}"'

    detail = api.client.get(f"/applications/{application.id}", headers=recruiter.headers).json()
    assert detail["state"] == "commitment"
    assert detail["commitment_start"] == start.isoformat()
    assert detail["commitment_end"] == (start.replace(year=start.year + 2)).isoformat()
    moves = [e["event"] for e in detail["timeline"] if e["kind"] == "transition"]
    assert moves == ["create", "screen", "invite", "accept", "start_training", "start_commitment"]
    assert {e["event"] for e in detail["events"]} >= {"complete", "end_early"}


def test_a_refused_move_says_what_is_allowed_and_changes_nothing(api: Api) -> None:
    _, recruiter, posting = _setup(api)
    application = make_application(api.workflow, posting)
    body = problem(_fire(api, recruiter, application.id, "accept"), 409)
    assert body["type"].endswith("/transition-not-allowed")
    assert "screen" in body["allowed"]
    body = problem(_fire(api, recruiter, application.id, "reject"), 409)
    assert body["guard"] == "reason_given"
    body = problem(_fire(api, recruiter, application.id, "no-such-event"), 404)
    assert body["field"] == "event"
    detail = api.client.get(f"/applications/{application.id}", headers=recruiter.headers).json()
    assert detail["state"] == "received" and detail["version"] == 1


def test_the_detail_says_which_guard_blocks_an_event(api: Api) -> None:
    _, recruiter, posting = _setup(api)
    application = make_application(api.workflow, posting)
    _fire(api, recruiter, application.id, "screen")
    _fire(api, recruiter, application.id, "invite")
    detail = api.client.get(f"/applications/{application.id}", headers=recruiter.headers).json()
    accept = next(e for e in detail["events"] if e["event"] == "accept")
    assert accept == accept | {"allowed": False, "blocked_by": "has_feedback"}
    assert accept["message"]


def test_if_match_refuses_a_stale_version(api: Api) -> None:
    _, recruiter, posting = _setup(api)
    application = make_application(api.workflow, posting)
    url = f"/applications/{application.id}/events/screen"
    stale = api.client.post(url, headers=recruiter.headers | {"If-Match": '"7"'})
    body = problem(stale, 412)
    assert body["expected"] == 7 and body["actual"] == 1
    bad = problem(api.client.post(url, headers=recruiter.headers | {"If-Match": "abc"}), 422)
    assert bad["field"] == "If-Match"
    fresh = api.client.post(url, headers=recruiter.headers | {"If-Match": '"1"'})
    assert fresh.status_code == 200 and fresh.json()["version"] == 2


def test_the_same_idempotency_key_replays_the_first_answer(api: Api) -> None:
    _, recruiter, posting = _setup(api)
    application = make_application(api.workflow, posting)
    url = f"/applications/{application.id}/events/screen"
    headers = recruiter.headers | {"Idempotency-Key": "move-1"}
    first = api.client.post(url, headers=headers)
    again = api.client.post(url, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    detail = api.client.get(f"/applications/{application.id}", headers=recruiter.headers).json()
    assert [e["event"] for e in detail["timeline"]] == ["create", "screen"]

    other = api.client.post(url, json={"reason": "different"}, headers=headers)
    assert problem(other, 422)["field"] == "Idempotency-Key"


def test_a_refusal_is_replayed_too(api: Api) -> None:
    _, recruiter, posting = _setup(api)
    application = make_application(api.workflow, posting)
    headers = recruiter.headers | {"Idempotency-Key": "k"}
    url = f"/applications/{application.id}/events/accept"
    first = problem(api.client.post(url, headers=headers), 409)
    assert problem(api.client.post(url, headers=headers), 409) == first


def test_bulk_reports_each_application_on_its_own(api: Api) -> None:
    _, recruiter, posting = _setup(api)
    fresh = make_application(api.workflow, posting)
    screened = make_application(api.workflow, posting)
    _fire(api, recruiter, screened.id, "screen")
    foreign = make_application(api.workflow, make_posting(api.workflow, api.org()))
    response = api.client.post(
        "/applications/events/screen",
        json={"ids": [fresh.id, screened.id, foreign.id]},
        headers=recruiter.headers,
    )
    assert response.status_code == 200
    by_id = {item["id"]: item for item in response.json()}
    assert by_id[fresh.id]["status"] == 200
    assert by_id[fresh.id]["result"]["to_state"] == "screening"
    assert by_id[screened.id]["status"] == 409
    assert by_id[foreign.id]["status"] == 404
    assert "Prénom" not in str(by_id[foreign.id])


def test_notes_join_the_timeline_and_stay_inside(api: Api) -> None:
    _, recruiter, posting = _setup(api)
    application = make_application(api.workflow, posting)
    url = f"/applications/{application.id}/notes"
    created = api.client.post(url, json={"text": "Called her, available from March."},
                              headers=recruiter.headers)  # fmt: skip
    assert created.status_code == 201
    assert created.json()["author_name"] == recruiter.user.name
    assert (
        problem(api.client.post(url, json={"text": ""}, headers=recruiter.headers), 422)["field"]
        == "text"
    )
    notes = api.client.get(url, headers=recruiter.headers).json()
    assert [n["text"] for n in notes] == ["Called her, available from March."]
    timeline = api.client.get(f"/applications/{application.id}", headers=recruiter.headers).json()[
        "timeline"
    ]
    assert [e["kind"] for e in timeline] == ["transition", "note"]


def test_reopen_and_back_need_a_reason_and_a_manager(api: Api) -> None:
    org, recruiter, posting = _setup(api)
    application = make_application(api.workflow, posting)
    _fire(api, recruiter, application.id, "screen")
    assert problem(_fire(api, recruiter, application.id, "back"), 409)["guard"] == "reason_given"
    assert (
        _fire(api, recruiter, application.id, "back", reason="clicked too fast").status_code == 200
    )
    _fire(
        api,
        recruiter,
        application.id,
        "reject",
        reason="x",
        payload={"rejection_reason": "not_qualified"},
    )
    other_recruiter = api.staff(org, "recruiter")  # not this posting's
    assert problem(_fire(api, other_recruiter, application.id, "reopen", reason="r"), 404)
    hr = api.staff(org, "hr")
    reopened = _fire(api, hr, application.id, "reopen", reason="rejected by mistake")
    assert reopened.status_code == 200 and reopened.json()["to_state"] == "received"


def test_an_interviewer_sees_only_their_applications_and_moves_none(api: Api) -> None:
    org, _, posting = _setup(api)
    mine = make_application(api.workflow, posting)
    other = make_application(api.workflow, posting)
    interviewer = api.staff(org, "interviewer")
    add_feedback(api.workflow, mine, interviewer.user)
    listed = api.client.get("/applications", headers=interviewer.headers).json()["items"]
    assert [a["id"] for a in listed] == [mine.id]
    assert (
        api.client.get(f"/applications/{mine.id}", headers=interviewer.headers).status_code == 200
    )
    problem(api.client.get(f"/applications/{other.id}", headers=interviewer.headers), 404)
    problem(_fire(api, interviewer, mine.id, "screen"), 403)


def test_the_list_filters_and_pages_with_a_cursor(api: Api) -> None:
    _, recruiter, posting = _setup(api)
    with time_machine.travel(now() - timedelta(days=20)):
        old = make_application(api.workflow, posting, email="old.timer@example.org")
    apps = [make_application(api.workflow, posting) for _ in range(4)]
    _fire(api, recruiter, apps[0].id, "screen")
    get = lambda **params: api.client.get(  # noqa: E731
        "/applications", params=params, headers=recruiter.headers
    ).json()
    assert [a["id"] for a in get(state="screening")["items"]] == [apps[0].id]
    assert [a["id"] for a in get(idle_days=10)["items"]] == [old.id]
    assert [a["id"] for a in get(q="OLD.TIMER")["items"]] == [old.id]
    assert len(get(q="prénom")["items"]) == 5  # the first names, case-insensitively
    seen, cursor = [], None
    while True:
        page = get(limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted([old.id, *(a.id for a in apps)], reverse=True)
    assert (
        problem(api.client.get("/applications?cursor=bm9wZQ", headers=recruiter.headers), 422)[
            "field"
        ]
        == "cursor"
    )


def test_a_recruiter_on_another_postings_panel_sees_that_application_but_moves_it_not(
    api: Api,
) -> None:
    org, _, posting = _setup(api)
    application = make_application(api.workflow, posting)
    colleague = api.staff(org, "recruiter")  # owns nothing here, sits on the panel
    problem(api.client.get(f"/applications/{application.id}", headers=colleague.headers), 404)
    add_feedback(api.workflow, application, colleague.user)
    seen = api.client.get(f"/applications/{application.id}", headers=colleague.headers)
    assert seen.status_code == 200
    listed = api.client.get("/applications", headers=colleague.headers).json()["items"]
    assert [a["id"] for a in listed] == [application.id]
    problem(_fire(api, colleague, application.id, "screen"), 403)
    report = api.client.get("/reports/pipeline", headers=colleague.headers).json()
    assert report["postings"] == []  # figures are for the postings they manage
