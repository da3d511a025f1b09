"""No organisation ever sees another's data: every route of the app, as every role of
organisation A, on organisation B's resources, answers 404 with none of B's data.

The routes are enumerated from `app.routes` (through FastAPI's iter_route_contexts, which
flattens the included routers), so a new endpoint is covered without anyone adding
it here; a route this test does not know how to call (a new path parameter, a body it needs)
fails the test until it is taught.
"""

from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts

from api.pages.web import is_page_path
from notifications.models import MessageStatus, OutboxMessage, RecipientKind
from tests.api_support import Api, Staff
from tests.factories import add_feedback, make_application, make_posting, make_user
from workflow.models import Candidate, Document, Note, Role

ROLES = [Role.admin, Role.hr, Role.recruiter, Role.interviewer]
SECRET = "Zyxwvut"  # in B's candidate, posting and note: must appear in no answer to A

# Open to anyone by design: the public pages show published postings of every organisation,
# and a candidate's status link is a capability of its own.
NOT_TENANT_DATA = ("/public", "/auth/token", "/auth/logout", "/health", "/metrics", "/docs", "/openapi.json",
                   "/redoc", "/careers", "/status/", "/lang/", "/app/login", "/app/logout")  # fmt: skip

# A valid body for each route that needs one, so that the 404 is not hidden behind a 422.
# "{application_id}" in a body stands for organisation B's application.
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/postings"): {"ref": "a-1", "kind": "staff", "title": "A's", "pipeline": "staff"},
    ("POST", "/applications/events/{event}"): {"ids": ["{application_id}"], "reason": "r"},
    ("PATCH", "/postings/{posting_id}"): {"title": "renamed"},
    ("POST", "/postings/{posting_id}/events/{event}"): {"reason": "r"},
    ("POST", "/applications/{application_id}/events/{event}"): {"reason": "r"},
    ("POST", "/applications/{application_id}/notes"): {"text": "a note"},
    ("POST", "/applications/{application_id}/interviews"): {
        "starts_at": "2030-01-10T10:00:00+01:00",
        "timezone": "Europe/Brussels",
        "location": "Brussels",
        "interviewer_ids": [1],
    },
    ("PATCH", "/interviews/{interview_id}"): {"starts_at": "2030-01-11T10:00:00+01:00"},
    ("POST", "/interviews/{interview_id}/cancel"): {"reason": "r"},
    ("PUT", "/interviews/{interview_id}/feedback"): {"recommendation": "yes", "notes": ""},
}


@dataclass
class Other:
    """Organisation B's rows, one of each kind a route can name."""

    values: dict[str, Any]


def _organisation_b(api: Api) -> Other:
    org = api.org()
    posting = make_posting(api.workflow, org, title=f"Call {SECRET}")
    application = make_application(api.workflow, posting)
    feedback = add_feedback(api.workflow, application, make_user(api.workflow, org))
    with api.workflow.sessions.begin() as session:
        session.get_one(Candidate, application.candidate_id).last_name = SECRET
        author = make_user(api.workflow, org, Role.hr)
        document = Document(
            organisation_id=org.id,
            application_id=application.id,
            kind="cv",
            storage_name="0" * 32 + ".pdf",
            content_type="application/pdf",
            size=1,
            sha256="0" * 64,
            created_at=application.created_at,
        )
        session.add(document)
        message = OutboxMessage(
            organisation_id=org.id,
            application_id=application.id,
            dedup_key=f"isolation:{application.id}",
            template="application_received",
            language="fr",
            recipient_kind=RecipientKind.candidate,
            to_email="candidate@example.org",
            to_name=SECRET,
            subject=f"Hello {SECRET}",
            text_body=SECRET,
            html_body=SECRET,
            status=MessageStatus.dead,  # dead: resending it is possible, for B's HR only
            next_attempt_at=application.created_at,
            created_at=application.created_at,
        )
        session.add(message)
        session.add(
            Note(
                organisation_id=org.id,
                application_id=application.id,
                author_id=author.id,
                body=f"note {SECRET}",
                created_at=application.created_at,
            )
        )
        session.flush()
    return Other(
        {
            "posting_id": posting.id,
            "application_id": application.id,
            "interview_id": feedback.interview_id,
            "document_id": document.id,
            "message_id": message.id,
            "event": "close",
        }
    )


# The same for the pages' forms (sent form-encoded, with the session's CSRF token).
FORMS: dict[tuple[str, str], dict[str, Any]] = {
    # the board and the application page
    ("POST", "/app/postings/{posting_id}/board/events"): {
        "event": "screen",
        "ids": "{application_id}",
        "reason": "r",
    },
    ("POST", "/app/applications/{application_id}/events/{event}"): {
        "version": "1",
        "view": "board",
        "reason": "r",
    },
    ("POST", "/app/applications/{application_id}/notes"): {"text": "a note"},
    ("POST", "/app/applications/{application_id}/interviews"): {
        "starts_at": "2030-01-10T10:00",
        "timezone": "Europe/Brussels",
        "duration": "60",
        "location": "Brussels",
        "interviewer_ids": "1",
    },
    ("POST", "/app/interviews/{interview_id}/feedback"): {"recommendation": "yes", "notes": ""},
    # the postings and the dashboard
    ("POST", "/app/postings/new"): {
        "ref": "a-page-1",
        "kind": "staff",
        "pipeline": "staff",
        "title": "A's",
        "timezone": "Europe/Brussels",
    },
    ("POST", "/app/postings/{posting_id}/edit"): {
        "title": "renamed",
        "timezone": "Europe/Brussels",
        "closes_on": "2030-01-10",
    },
    ("POST", "/app/postings/{posting_id}/events/{event}"): {"reason": "r"},
    ("POST", "/app/dashboard/messages/{message_id}/resend"): {},
}


def _call(api: Api, method: str, route: APIRoute, values: dict[str, Any], member: Staff) -> Any:
    url = route.path.format(**values)
    if is_page_path(route.path):
        form = FORMS.get((method, route.path))
        if method in ("POST", "PUT", "PATCH") and form is None and route.body_field is not None:
            raise AssertionError(f"teach the isolation test a valid form for {method} {route.path}")
        form = {k: v.format(**values) if isinstance(v, str) else v for k, v in (form or {}).items()}
        return api.client.request(method, url, data=form or None, headers=member.page_headers,
                                  follow_redirects=False)  # fmt: skip
    headers = member.headers
    body = BODIES.get((method, route.path))
    if body is not None and "ids" in body:
        body = body | {"ids": [values["application_id"]]}
    if method in ("POST", "PUT", "PATCH") and body is None and route.body_field is not None:
        raise AssertionError(f"teach the isolation test a valid body for {method} {route.path}")
    return api.client.request(method, url, json=body, headers=headers)


def test_every_route_hides_other_organisations(api: Api) -> None:
    other = _organisation_b(api)
    org_a = api.org()
    make_posting(api.workflow, org_a)  # A has data of its own: lists are not empty by chance
    staff = {role: api.staff(org_a, role) for role in ROLES}
    checked = 0
    for context in iter_route_contexts(api.app.routes):  # included routers, flattened
        route = context.route
        if not isinstance(route, APIRoute) or route.path.startswith(NOT_TENANT_DATA):
            continue
        names = set(route.param_convertors)
        unknown = names - other.values.keys()
        assert not unknown, f"teach the isolation test the parameter(s) {unknown} of {route.path}"
        for method in sorted(route.methods):
            for role, member in staff.items():
                response = _call(api, method, route, other.values, member)
                where = f"{method} {route.path} as {role.value}"
                assert SECRET not in response.text, where
                if names - {"event"}:
                    assert response.status_code == 404, f"{where}: {response.status_code}"
                else:
                    assert response.status_code < 500, f"{where}: {response.text}"
                checked += 1
    assert checked > 40


def test_lists_never_hold_another_organisations_rows(api: Api) -> None:
    other = _organisation_b(api)
    org_a = api.org()
    make_application(api.workflow, make_posting(api.workflow, org_a))
    for role in ROLES:
        member = api.staff(org_a, role)
        for url in (
            "/postings",
            "/applications",
            f"/applications?posting_id={other.values['posting_id']}",
        ):
            response = api.client.get(url, headers=member.headers)
            assert response.status_code == 200, url
            assert SECRET not in response.text, (url, role)
        bulk = api.client.post(
            "/applications/events/screen",
            json={"ids": [other.values["application_id"]]},
            headers=member.headers,
        )
        assert SECRET not in bulk.text
        assert all(item["status"] == 404 for item in bulk.json()) or bulk.status_code == 403
