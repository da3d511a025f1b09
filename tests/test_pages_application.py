"""The application page: the candidate, documents, history and notes, e-mails, deadlines; moves,
notes, scheduling an interview and giving feedback through its forms, each refusal told beside
its field; interviewers see their own work only."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import notifications
from tests.api_support import Api, Staff
from tests.factories import make_application, make_posting, now
from tests.test_pages_board import EN, en, fr, text
from workflow.models import Application, Candidate, Document, Role

BRUSSELS = ZoneInfo("Europe/Brussels")


def _setup(api: Api):
    org = api.org()
    recruiter = api.staff(org, Role.recruiter)
    posting = make_posting(api.workflow, org, owner_id=recruiter.id)
    return org, recruiter, posting


def _page(api: Api, staff: Staff, app_id: int, lang: str = "en"):
    headers = staff.page_headers | {"Accept-Language": lang}
    return api.client.get(f"/app/applications/{app_id}", headers=headers)


def _post(api: Api, staff: Staff, url: str, data: dict):
    return api.client.post(url, data=data, headers=staff.page_headers | EN, follow_redirects=False)


def _fire(api: Api, staff: Staff, app_id: int, event: str, **body) -> None:
    response = api.client.post(
        f"/applications/{app_id}/events/{event}", json=body or None, headers=staff.headers
    )
    assert response.status_code == 200, response.text


def section(html: str, name: str) -> str:
    found = re.search(rf'<section id="{name}".*?</section>', html, re.S)
    assert found, f"no section {name}"
    return found.group(0)


def _document(api: Api, application: Application) -> Document:
    storage = api.settings.effective_storage_dir
    storage.mkdir(parents=True, exist_ok=True)
    name = "a" * 32 + ".pdf"
    (storage / name).write_bytes(b"%PDF-1.4 the CV")
    with api.workflow.sessions.begin() as session:
        document = Document(
            organisation_id=application.organisation_id,
            application_id=application.id,
            kind="cv",
            storage_name=name,
            content_type="application/pdf",
            size=15,
            sha256="0" * 64,
            created_at=now(),
        )
        session.add(document)
    return document


def _schedule(api: Api, staff: Staff, app_id: int, panel: list[int], **fields: str):
    start = (now() - timedelta(hours=2)).astimezone(BRUSSELS)
    data = {
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "timezone": "Europe/Brussels",
        "duration": "60",
        "location": "Rue Berckmans 9, Bruxelles",
        "interviewer_ids": panel,
    } | fields
    return _post(api, staff, f"/app/applications/{app_id}/interviews", data)


def test_the_page_shows_the_candidate_documents_history_emails_and_deadlines(api: Api) -> None:
    notifications.install(api.workflow.bus, api.settings)  # the acknowledgement is queued
    _, recruiter, posting = _setup(api)
    application = make_application(api.workflow, posting, language="en")
    make_application(api.workflow, posting)  # its own reminder is not this page's
    with api.workflow.sessions.begin() as session:
        candidate = session.get_one(Candidate, application.candidate_id)
        candidate.phone = "+32 2 123 45 67"
        candidate.consents = [
            {"kind": "privacy", "text_version": "2024-01", "given_at": now().isoformat()}
        ]
        name = f"{candidate.first_name} {candidate.last_name}"
    document = _document(api, application)
    _fire(api, recruiter, application.id, "screen")
    _fire(api, recruiter, application.id, "back", reason="Dossier incomplet")

    page = _page(api, recruiter, application.id)
    assert page.status_code == 200
    assert f'<h1 data-testid="candidate-name">{name}</h1>' in page.text
    assert f'href="/app/postings/{posting.id}/board"' in page.text
    who = text(section(page.text, "candidate"))
    assert "+32 2 123 45 67" in who and "Privacy notice" in who and "English" in who
    history = text(section(page.text, "history"))
    assert "The candidate Application received" in history
    assert f"{recruiter.user.name} Move back: Being reviewed → Application received" in history
    assert "Dossier incomplet" in history
    emails = section(page.text, "emails")
    assert 'data-status="queued" data-template="application_received"' in emails
    assert "waiting to be sent" in text(emails)
    deadlines = section(page.text, "deadlines")
    assert deadlines.count("<tr data-kind=") == 1 and 'data-kind="idle_reminder"' in deadlines
    assert "Reminder if the application has not moved" in text(deadlines)

    link = f'href="/app/documents/{document.id}"'
    assert link in section(page.text, "documents")
    download = api.client.get(f"/app/documents/{document.id}", headers=recruiter.page_headers)
    assert download.status_code == 200 and download.content == b"%PDF-1.4 the CV"
    assert download.headers["content-disposition"].startswith("attachment")
    stranger = api.staff(api.org(), Role.admin)
    assert _page(api, stranger, application.id).status_code == 404
    missing = api.client.get(f"/app/documents/{document.id}", headers=stranger.page_headers)
    assert missing.status_code == 404


def test_a_note_is_added_and_a_blank_one_is_refused_beside_its_field(api: Api) -> None:
    _, recruiter, posting = _setup(api)
    application = make_application(api.workflow, posting)
    url = f"/app/applications/{application.id}/notes"
    blank = _post(api, recruiter, url, {"text": "   "})
    assert blank.status_code == 422
    assert re.search(r'id="note-text"[^>]*aria-invalid="true"', blank.text)
    assert f'id="note-text-error">{en("application.note_empty")}' in blank.text
    added = _post(api, recruiter, url, {"text": "Appelée, rappeler lundi"})
    assert added.status_code == 303
    assert added.headers["location"] == f"/app/applications/{application.id}#history"
    history = text(section(_page(api, recruiter, application.id).text, "history"))
    assert "Internal note Appelée, rappeler lundi" in history


def test_moves_from_the_page_are_refused_in_words_or_made(api: Api) -> None:
    _, recruiter, posting = _setup(api)
    application = make_application(api.workflow, posting)
    url = f"/app/applications/{application.id}/events"
    refused = _post(api, recruiter, f"{url}/reject", {"version": "1", "view": "application"})
    assert refused.status_code == 409
    assert en("guards.reason_given") in text(section(refused.text, "moves"))
    made = _post(api, recruiter, f"{url}/screen", {"version": "1", "view": "application"})
    assert made.status_code == 303
    assert made.headers["location"] == f"/app/applications/{application.id}?moved=screen#moves"
    after = api.client.get(made.headers["location"], headers=recruiter.page_headers | EN)
    assert "Done: Start screening." in text(after.text)
    assert 'data-state="screening"' in after.text


def test_scheduling_an_interview_keeps_what_was_typed_beside_each_error(api: Api) -> None:
    org, recruiter, posting = _setup(api)
    application = make_application(api.workflow, posting)
    panel = api.staff(org, Role.interviewer)
    wrong = _schedule(
        api, recruiter, application.id, [], timezone="Mars/Olympus", duration="0",
        location="Salle 2",
    )  # fmt: skip
    assert wrong.status_code == 422
    form = re.search(r'<form [^>]*id="schedule-form".*?</form>', wrong.text, re.S).group(0)
    assert f'id="iv-zone-error">{en("application.invalid_timezone")}' in form
    assert f'id="iv-duration-error">{en("application.invalid_duration")}' in form
    assert f'id="iv-panel-error">{en("application.invalid_interviewer_ids")}' in form
    assert 'value="Salle 2"' in form and 'value="Mars/Olympus"' in form
    nowhere = _schedule(api, recruiter, application.id, [panel.id], location="")
    assert nowhere.status_code == 422
    assert f'id="iv-location-error">{en("application.invalid_location")}' in nowhere.text
    assert re.search(rf'id="iv-panel-{panel.id}"[^>]*checked', nowhere.text)
    listed = api.client.get(f"/applications/{application.id}/interviews", headers=recruiter.headers)
    assert listed.json() == []

    done = _schedule(api, recruiter, application.id, [panel.id])
    assert done.status_code == 303
    (interview,) = api.client.get(
        f"/applications/{application.id}/interviews", headers=recruiter.headers
    ).json()
    assert [p["id"] for p in interview["interviewers"]] == [panel.id]
    assert interview["location"] == "Rue Berckmans 9, Bruxelles"
    assert interview["timezone"] == "Europe/Brussels"


def test_an_interviewer_gives_feedback_and_sees_only_their_own(api: Api) -> None:
    org, recruiter, posting = _setup(api)
    application = make_application(api.workflow, posting)
    _fire(api, recruiter, application.id, "screen")
    _fire(api, recruiter, application.id, "invite")
    first, second = api.staff(org, Role.interviewer), api.staff(org, Role.interviewer)
    assert _schedule(api, recruiter, application.id, [first.id, second.id]).status_code == 303

    page = _page(api, first, application.id)
    assert page.status_code == 200
    interview_id = int(re.search(r'id="feedback-form-(\d+)"', page.text).group(1))
    assert 'id="moves"' not in page.text and 'id="schedule-form"' not in page.text
    assert 'id="deadlines"' not in page.text  # as the deadlines route: not for interviewers
    url = f"/app/interviews/{interview_id}/feedback"
    missing = _post(api, second, url, {"notes": "Pas assez d'expérience"})
    assert missing.status_code == 422
    assert en("application.invalid_recommendation") in text(missing.text)
    assert "Pas assez d&#39;expérience</textarea>" in missing.text
    given = {"recommendation": "yes", "notes": "Très motivée"}
    assert _post(api, first, url, given).status_code == 303
    given = {"recommendation": "strong_no", "notes": "Pas assez d'expérience"}
    assert _post(api, second, url, given).status_code == 303

    mine = text(section(_page(api, first, application.id).text, "interviews"))
    assert "Très motivée" in mine and "Pas assez" not in mine
    assert f"{first.user.name}: Yes" in mine
    assert 'id="feedback-form-' not in _page(api, first, application.id).text
    everyone = text(section(_page(api, recruiter, application.id).text, "interviews"))
    assert "Très motivée" in everyone and "Pas assez d'expérience" in everyone

    outsider = api.staff(org, Role.interviewer)
    assert _page(api, outsider, application.id).status_code == 404
    assert _post(api, outsider, url, {"recommendation": "yes"}).status_code == 404


def test_the_page_speaks_french_and_english(api: Api) -> None:
    _, recruiter, posting = _setup(api)
    application = make_application(api.workflow, posting)
    french = text(_page(api, recruiter, application.id, lang="fr").text)
    assert fr("application.history") in french and fr("application.event_create") in french
    assert fr("application.schedule") in french and "Étape : Candidature reçue" in french
    english = text(_page(api, recruiter, application.id).text)
    assert en("application.history") in english and "Stage: Application received" in english
