"""HR's reports and the deadlines over HTTP, on SQLite and PostgreSQL: the same figures as
workflow/reports.py, the same rows as CSV, a recruiter's postings only, never another
organisation's."""

import csv
import io
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import update

from api.security import issue_token
from tests.api_support import Api, Staff, page_session, problem
from tests.factories import STAFF, add_feedback, make_application, make_posting, make_user, now
from workflow import reports
from workflow.models import Candidate, Deadline, DeadlineStatus, EntityType, Role

T0 = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
ASKED = T0 + timedelta(days=20)  # when the reports are asked for
DAY = timedelta(days=1)
APP = EntityType.application
REPORTS = ["/reports/pipeline", "/reports/funnel", "/reports/time-in-stage",
           "/reports/commitments", "/reports/idle"]  # fmt: skip
SECRET = "Zyxwvut"


def at(when: datetime):
    return time_machine.travel(when, tick=False)


def fire(api: Api, application, *events: str, **kwargs: Any) -> None:
    for event in events:
        api.workflow.fire(APP, application.id, event, STAFF, **kwargs)


class World:
    """Organisation A: a recruiter's volunteer call (a commitment ending, people waiting, a
    rejection), a staff call of nobody's, an empty draft; organisation B: a call of its own."""

    def __init__(self, api: Api) -> None:
        self.api = api
        with at(T0):
            self.org = api.org()
            recruiter = make_user(api.workflow, self.org, Role.recruiter)
            self.recruiters_call = make_posting(api.workflow, self.org, owner_id=recruiter.id)
            self.staff_call = make_posting(api.workflow, self.org, pipeline="staff")
            self.draft = make_posting(api.workflow, self.org, publish=False)
            self.committed = self._to_commitment(self.recruiters_call, date(2029, 4, 1))
            self.waiting = make_application(api.workflow, self.recruiters_call)
            self.refused = make_application(api.workflow, self.recruiters_call)
            self.invited = make_application(api.workflow, self.staff_call)
            make_application(api.workflow, self.staff_call)
        with at(T0 + 2 * DAY):
            fire(api, self.refused, "screen")
            fire(api, self.invited, "screen")
        with at(T0 + 5 * DAY):
            fire(api, self.refused, "reject", reason="no French")
            fire(api, self.invited, "invite")
        self.other = self._organisation_b()
        self.recruiter_user = recruiter

    def _to_commitment(self, posting, start: date):
        workflow = self.api.workflow
        application = make_application(workflow, posting)
        fire(self.api, application, "screen", "invite")
        add_feedback(workflow, application, make_user(workflow, self.org, Role.interviewer))
        fire(self.api, application, "accept", "start_training")
        fire(self.api, application, "start_commitment", payload={"commitment_start": str(start)})
        return application

    def _organisation_b(self):
        workflow = self.api.workflow
        with at(T0):
            org = self.api.org()
            posting = make_posting(workflow, org, title=f"Call {SECRET}")
            application = make_application(workflow, posting)
            with workflow.sessions.begin() as session:
                session.get_one(Candidate, application.candidate_id).last_name = SECRET
        return posting

    def staff(self, role: str) -> Staff:
        """A member of A with a token valid at ASKED (call inside `at(ASKED)`)."""
        return self.api.staff(self.org, role)

    def recruiter(self) -> Staff:
        """The recruiter in charge of `recruiters_call`, with a token valid now."""
        with self.api.workflow.sessions.begin() as session:
            token = issue_token(session, self.recruiter_user, now(), timedelta(hours=1))
        return Staff(
            self.recruiter_user, {"Authorization": f"Bearer {token.raw}"}, page_session(token.raw)
        )


@pytest.fixture
def world(api: Api) -> World:
    return World(api)


def get(api: Api, url: str, member: Staff, **headers: str) -> Any:
    response = api.client.get(url, headers=member.headers | headers)
    assert response.status_code == 200, response.text
    return response


def csv_rows(response: Any) -> list[dict[str, str]]:
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.text)))


def as_text(value: Any) -> str:
    return "" if value is None else str(value)


def seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def expected_reports(api: Api, world: World, **scope: Any) -> dict[str, Any]:
    """Every report straight from workflow/reports.py, shaped as the API answers."""
    workflow, org_id, now = api.workflow, world.org.id, ASKED
    pipelines = [workflow.pipelines["staff"], workflow.pipelines["volunteer"]]
    waiting = reports.open_states(workflow.pipelines.values())
    with workflow.sessions() as session:
        conversions = [
            {"pipeline": p.name, **asdict(c)}
            for p in pipelines
            for c in reports.conversion(session, org_id, p, **scope)
        ]
        times = [
            {"pipeline": p.name, "state": t.state, "ended": t.ended,
             "median_seconds": seconds(t.median), "p90_seconds": seconds(t.p90),
             "current": t.current, "longest_current_seconds": seconds(t.longest_current)}
            for p in pipelines
            for t in reports.time_in_stage(session, org_id, p, now, **scope)
        ]  # fmt: skip
        return {
            "totals": reports.organisation_counts(session, org_id, **scope),
            "postings": [asdict(p) for p in reports.posting_counts(session, org_id, **scope)],
            "funnel": conversions,
            "time": times,
            "commitments": reports.commitments_ending(session, org_id, now.date(), 90, **scope),
            "idle": reports.idle_applications(session, org_id, now, 10, waiting, **scope),
        }


def answered(api: Api, member: Staff) -> dict[str, Any]:
    pipeline = get(api, "/reports/pipeline?limit=1000", member).json()
    return {
        "totals": pipeline["totals"],
        "postings": pipeline["postings"],
        "funnel": get(api, "/reports/funnel", member).json()["items"],
        "time": get(api, "/reports/time-in-stage", member).json()["items"],
        "commitments": get(api, "/reports/commitments", member).json()["items"],
        "idle": get(api, "/reports/idle", member).json()["items"],
    }


def same_items(items: list[dict[str, Any]], rows: list[Any]) -> bool:
    """API items against the workflow's dataclasses (dates and times compared as values)."""
    expected = [asdict(row) for row in rows]
    for item in items:
        for key in ("commitment_end",):
            if key in item:
                item[key] = date.fromisoformat(item[key])
        if "state_entered_at" in item:
            item["state_entered_at"] = datetime.fromisoformat(item["state_entered_at"])
    return items == expected


# --- The figures --------------------------------------------------------------------------------


def test_hr_gets_the_workflow_reports_figures(api: Api, world: World) -> None:
    with at(ASKED):
        hr = world.staff("hr")
        got, expected = answered(api, hr), expected_reports(api, world)
    assert got["totals"] == expected["totals"] == {
        "commitment": 1, "received": 2, "rejected": 1, "interview": 1,
    }  # fmt: skip
    assert got["postings"] == expected["postings"]
    assert [p["posting_id"] for p in got["postings"]] == [
        world.recruiters_call.id, world.staff_call.id, world.draft.id,
    ]  # fmt: skip
    assert got["funnel"] == expected["funnel"]
    assert got["time"] == expected["time"]
    assert any(t["median_seconds"] == 2 * 86400 for t in got["time"])  # staff: screened at +2 d
    assert same_items(got["commitments"], expected["commitments"])
    assert [c["application_id"] for c in got["commitments"]] == [world.committed.id]
    assert same_items(got["idle"], expected["idle"])
    assert {i["application_id"] for i in got["idle"]} >= {world.waiting.id, world.invited.id}


def test_admin_sees_what_hr_sees(api: Api, world: World) -> None:
    with at(ASKED):
        assert answered(api, world.staff("admin")) == answered(api, world.staff("hr"))


def test_the_pipeline_report_pages_postings_and_filters_by_state(api: Api, world: World) -> None:
    with at(ASKED):
        hr = world.staff("hr")
        first = get(api, "/reports/pipeline?limit=2", hr).json()
        second = get(api, f"/reports/pipeline?limit=2&offset={first['next_offset']}", hr).json()
        drafts = get(api, "/reports/pipeline?state=draft", hr).json()
    assert [p["posting_id"] for p in first["postings"]] == [
        world.recruiters_call.id, world.staff_call.id,
    ]  # fmt: skip
    assert [p["posting_id"] for p in second["postings"]] == [world.draft.id]
    assert second["next_offset"] is None
    assert first["totals"] == second["totals"] == drafts["totals"]  # the organisation, every page
    assert first["total"] == 5
    assert [(p["posting_id"], p["counts"], p["total"]) for p in drafts["postings"]] == [
        (world.draft.id, {}, 0)
    ]


def test_reports_take_a_posting_and_a_pipeline(api: Api, world: World) -> None:
    with at(ASKED):
        hr = world.staff("hr")
        staff_call = world.staff_call.id
        funnel = get(api, f"/reports/funnel?posting_id={staff_call}", hr).json()["items"]
        volunteer = get(api, "/reports/time-in-stage?pipeline=volunteer", hr).json()["items"]
        idle = get(api, f"/reports/idle?posting_id={staff_call}&idle_days=0", hr).json()
        pipeline = get(api, f"/reports/pipeline?posting_id={staff_call}", hr).json()
        mismatch = get(api, f"/reports/funnel?posting_id={staff_call}&pipeline=volunteer", hr)
        unknown = api.client.get("/reports/funnel?pipeline=posting", headers=hr.headers)
        with api.workflow.sessions() as session:
            expected = reports.conversion(
                session, world.org.id, api.workflow.pipelines["staff"], staff_call
            )
    assert [p["posting_id"] for p in pipeline["postings"]] == [staff_call]
    assert (
        pipeline["totals"] == pipeline["postings"][0]["counts"] == {"interview": 1, "received": 1}
    )
    assert funnel == [{"pipeline": "staff", **asdict(c)} for c in expected]
    assert funnel[0]["reached"] == 2 and funnel[0]["advanced"] == 1
    assert {t["pipeline"] for t in volunteer} == {"volunteer"}
    assert {i["posting_id"] for i in idle["items"]} == {staff_call}
    assert mismatch.json()["items"] == []  # the staff call's pipeline is not volunteer
    assert problem(unknown, 422)["field"] == "pipeline"


@pytest.mark.parametrize(
    "query",
    ["/reports/pipeline?limit=0", "/reports/idle?idle_days=-1", "/reports/commitments?within_days=x",
     "/reports/funnel?posting_id=0", "/reports/pipeline?offset=99999999999", "/deadlines?status=done",
     "/deadlines?limit=100000"],
)  # fmt: skip
def test_bad_parameters_are_422_naming_them(api: Api, world: World, query: str) -> None:
    with at(ASKED):
        response = api.client.get(query, headers=world.staff("hr").headers)
    name = query.split("?")[1].split("=")[0]
    assert problem(response, 422)["field"] == name


# --- CSV ----------------------------------------------------------------------------------------


def test_csv_has_the_json_rows(api: Api, world: World) -> None:
    csv_accept = {"Accept": "text/csv"}
    with at(ASKED):
        hr = world.staff("hr")
        for url in REPORTS[1:]:
            items = get(api, url, hr).json()["items"]
            rows = csv_rows(get(api, url, hr, **csv_accept))
            assert items, url
            assert rows == [{k: as_text(v) for k, v in item.items()} for item in items], url
        pipeline = get(api, "/reports/pipeline", hr).json()["postings"]
        rows = csv_rows(get(api, "/reports/pipeline", hr, **csv_accept))
    assert [row["posting_id"] for row in rows] == [str(p["posting_id"]) for p in pipeline]
    for row, posting in zip(rows, pipeline, strict=True):
        assert row["title"] == posting["title"] and row["total"] == str(posting["total"])
        states = list(row)[6:]  # one column per state, after the posting's own columns
        assert set(posting["counts"]) <= set(states)
        assert {s: int(row[s]) for s in states if int(row[s])} == posting["counts"]
    assert {"received", "commitment", "offer"} <= set(states)


def test_json_stays_the_default_unless_csv_is_preferred(api: Api, world: World) -> None:
    with at(ASKED):
        hr = world.staff("hr")
        for accept in ("", "*/*", "application/json, text/csv;q=0.5", "text/html"):
            response = get(api, "/reports/funnel", hr, Accept=accept)
            assert response.headers["content-type"] == "application/json", accept
        for accept in ("text/csv", "text/csv, */*", "application/json;q=0.2, text/*"):
            response = get(api, "/reports/funnel", hr, Accept=accept)
            assert response.headers["content-type"].startswith("text/csv"), accept


def test_csv_defuses_formulas_in_names(api: Api, world: World) -> None:
    with api.workflow.sessions.begin() as session:
        session.get_one(Candidate, world.waiting.candidate_id).first_name = "=HYPERLINK(1)"
    with at(ASKED):
        rows = csv_rows(get(api, "/reports/idle", world.staff("hr"), Accept="text/csv"))
    (row,) = [r for r in rows if r["application_id"] == str(world.waiting.id)]
    assert row["candidate_name"].startswith("'=HYPERLINK(1)")


# --- Who sees what ------------------------------------------------------------------------------


def test_a_recruiter_sees_only_their_postings_figures(api: Api, world: World) -> None:
    mine = world.recruiters_call.id
    with at(ASKED):
        recruiter = world.recruiter()
        got = answered(api, recruiter)
        expected = expected_reports(api, world, posting_ids=[mine])
        elsewhere = api.client.get(
            f"/reports/funnel?posting_id={world.staff_call.id}", headers=recruiter.headers
        )
    assert [p["posting_id"] for p in got["postings"]] == [mine]
    assert got["totals"] == expected["totals"] == {"commitment": 1, "received": 1, "rejected": 1}
    assert got["funnel"] == expected["funnel"]
    assert got["time"] == expected["time"]
    assert same_items(got["idle"], expected["idle"])
    assert {i["posting_id"] for i in got["idle"]} == {mine}
    assert [c["application_id"] for c in got["commitments"]] == [world.committed.id]
    problem(elsewhere, 404)  # a posting of their organisation they do not work on


def test_an_interviewer_gets_no_report(api: Api, world: World) -> None:
    with at(ASKED):
        interviewer = world.staff("interviewer")
        for url in [*REPORTS, "/deadlines"]:
            problem(api.client.get(url, headers=interviewer.headers), 403)


def test_another_organisations_figures_never_appear(api: Api, world: World) -> None:
    theirs = world.other.id
    with at(ASKED):
        for role in ("admin", "hr"):
            member = world.staff(role)
            for url in [*REPORTS, "/deadlines"]:
                for accept in ("application/json", "text/csv"):
                    response = get(api, url, member, Accept=accept)
                    assert SECRET not in response.text, (url, role, accept)
                    assert f"Call {SECRET}" not in response.text
                problem(api.client.get(f"{url}?posting_id={theirs}", headers=member.headers), 404)
        with api.workflow.sessions() as session:
            mine = reports.organisation_counts(session, world.org.id)
        assert get(api, "/reports/pipeline", member).json()["totals"] == mine


# --- Deadlines ----------------------------------------------------------------------------------


def _fail(api: Api, application, error: str) -> None:
    """What the sweeper leaves after its last failed attempt."""
    with api.workflow.sessions.begin() as session:
        session.execute(
            update(Deadline)
            .where(Deadline.entity_type == APP, Deadline.entity_id == application.id)
            .values(status=DeadlineStatus.failed, attempts=5, last_error=error)
        )


def test_deadlines_lists_pending_soonest_first_and_failed_ones(api: Api, world: World) -> None:
    _fail(api, world.waiting, "SMTP server unreachable")
    with at(ASKED):
        hr = world.staff("hr")
        items = get(api, "/deadlines", hr).json()
        failed = get(api, "/deadlines?status=failed", hr).json()
        pending = get(api, "/deadlines?status=pending&limit=2", hr).json()
    assert {i["status"] for i in items} == {"pending", "failed"}
    assert [i["due_at"] for i in items] == sorted(i["due_at"] for i in items)
    (gone_wrong,) = failed
    assert gone_wrong["entity_type"] == "application"
    assert gone_wrong["entity_id"] == world.waiting.id
    assert (gone_wrong["attempts"], gone_wrong["last_error"]) == (5, "SMTP server unreachable")
    # An application's deadline names the posting it concerns.
    assert gone_wrong["posting_id"] == world.recruiters_call.id
    assert gone_wrong["posting_title"] == world.recruiters_call.title
    closing = [i for i in items if i["entity_type"] == "posting" and i["event"] == "close"]
    assert {i["entity_id"] for i in closing} == {world.recruiters_call.id, world.staff_call.id}
    assert all(i["posting_id"] == i["entity_id"] for i in closing)
    assert pending == [i for i in items if i["status"] == "pending"][:2]
    with api.workflow.sessions() as session:
        listed = reports.deadlines(session, world.org.id)
    assert [i["id"] for i in items] == [d.id for d in listed]


def test_deadlines_by_posting_and_for_a_recruiter(api: Api, world: World) -> None:
    mine, staff_call = world.recruiters_call.id, world.staff_call.id
    with at(ASKED):
        hr, recruiter = world.staff("hr"), world.recruiter()
        of_staff_call = get(api, f"/deadlines?posting_id={staff_call}", hr).json()
        recruiters = get(api, "/deadlines", recruiter).json()
        refused = api.client.get(f"/deadlines?posting_id={staff_call}", headers=recruiter.headers)
    assert of_staff_call and {i["posting_id"] for i in of_staff_call} == {staff_call}
    assert {i["entity_type"] for i in of_staff_call} == {"posting", "application"}
    assert recruiters and {i["posting_id"] for i in recruiters} == {mine}
    problem(refused, 404)
