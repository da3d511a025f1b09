"""The postings pages, on SQLite and PostgreSQL: the list with its counts, a posting created and
edited through the form (every field the seeds need), errors beside their fields with nothing
typed lost, the lifecycle buttons, who sees what, and both languages."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date

from tests.api_support import Api, Staff
from tests.factories import STAFF, make_application, make_posting
from workflow.models import EntityType

BRUSSELS = ZoneInfo("Europe/Brussels")
CLOSING = date.today() + timedelta(days=45)

# The OMCT seed (004) as a recruiter types it into the form.
OMCT_FORM: dict[str, Any] = {
    "ref": "DIR-HRD-2025",
    "kind": "staff",
    "pipeline": "staff",
    "title": "Directeur-rice du programme des défenseurs des droits humains (100%)",
    "location": "Bruxelles",
    "description": "Diriger le programme (80%)\net le plaidoyer auprès de l'UE (20%).",
    "language_code": ["en", "fr", "es", "ru", ""],
    "language_level": ["required", "asset", "asset", "asset", "required"],
    "workload_label": ["HRD programme", "EU advocacy", ""],
    "workload_percent": ["80", "20", ""],
    "criteria": "Diplôme universitaire en droits humains\n\nSept ans d'expérience\n",
    "salary_min": "4300",
    "salary_max": "5100",
    "salary_currency": "eur",
    "salary_period": "month",
    "salary_payments_per_year": "12",
    "closes_on": CLOSING.isoformat(),
    "closes_time": "",
    "timezone": "Europe/Brussels",
    "start_date": "",
    "start_asap": "1",
    "commitment_months": "",
    "vacancies": "1",
    "contact_name": "Secrétariat international de l'OMCT",
    "contact_email": "applications@omct.org",
    "application_subject": "Director of the HRD Programme",
    "how_to_apply": "Lettre de motivation et CV à applications@omct.org.",
}


def in_english(member: Staff) -> dict[str, str]:
    """The member's page headers with English chosen (the language cookie beside the session)."""
    return member.page_headers | {"Cookie": member.page_headers["Cookie"] + "; vivier_lang=en"}


def created_id(response: Any) -> int:
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/app/postings/(\d+)\?done=saved", response.headers["location"])
    assert found, response.headers["location"]
    return int(found.group(1))


def error_beside(html: str, field: str) -> str:
    """The text of the error shown beside `field` (its control points at it)."""
    found = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html)
    assert found, f"no error beside {field}"
    assert f'aria-describedby="{field}-hint {field}-error"' in html or (
        f'aria-describedby="{field}-error"' in html
    )
    return found.group(1)


def test_the_omct_posting_is_created_through_the_form_with_every_seed_field(api: Api) -> None:
    org = api.org()
    hr, recruiter = api.staff(org, "hr"), api.staff(org, "recruiter")
    form = OMCT_FORM | {"owner_id": str(recruiter.id), "recruiter_ids": [str(hr.id)]}
    response = api.client.post(
        "/app/postings/new", data=form, headers=hr.page_headers, follow_redirects=False
    )
    posting_id = created_id(response)

    stored = api.client.get(f"/postings/{posting_id}", headers=hr.headers).json()
    assert stored["state"] == "draft" and stored["kind"] == "staff"
    assert stored["languages"] == [
        {"code": "en", "level": "required"},
        {"code": "fr", "level": "asset"},
        {"code": "es", "level": "asset"},
        {"code": "ru", "level": "asset"},
    ]
    assert stored["workload"] == [
        {"label": "HRD programme", "percent": 80},
        {"label": "EU advocacy", "percent": 20},
    ]
    assert stored["criteria"] == [
        "Diplôme universitaire en droits humains",
        "Sept ans d'expérience",
    ]
    salary = ("salary_min", "salary_max", "salary_currency", "salary_period",
              "salary_payments_per_year")  # fmt: skip
    assert [stored[k] for k in salary] == [4300, 5100, "EUR", "month", 12]
    closes = datetime.combine(CLOSING, datetime.max.time().replace(microsecond=0), BRUSSELS)
    assert datetime.fromisoformat(stored["closes_at"]) == closes.astimezone(UTC)
    assert stored["start_asap"] is True and stored["start_date"] is None
    assert stored["owner_id"] == recruiter.id and stored["recruiter_ids"] == [hr.id]
    assert stored["application_subject"] == "Director of the HRD Programme"
    assert stored["contact_email"] == "applications@omct.org" and stored["vacancies"] == 1

    page = api.client.get(response.headers["location"], headers=in_english(hr))
    assert page.status_code == 200
    assert "The posting is saved." in page.text
    assert "€4,300 \N{EN DASH} €5,100" in page.text and "per month" in page.text
    assert "paid 12 times a year" in page.text and "HRD programme: 80 %" in page.text
    assert f'href="/app/postings/{posting_id}/board"' in page.text


def test_a_bad_field_is_shown_beside_it_with_everything_typed_kept_and_nothing_created(
    api: Api,
) -> None:
    org = api.org()
    hr = api.staff(org, "hr")
    cases = [
        ({"salary_min": "5100", "salary_max": "4300"}, "salary_max", "maximum is below the min"),
        ({"timezone": "Europe/Bruxelles"}, "timezone", "Not a time zone we know"),
        ({"workload_percent": ["80", "30", ""]}, "workload", "more than 100 %"),
        ({"language_code": ["english", "", "", "", ""]}, "languages", "code of 2 or 3 letters"),
        ({"salary_min": "4 300"}, "salary_min", "A whole number"),
    ]
    for change, field, words in cases:
        form = OMCT_FORM | change
        response = api.client.post("/app/postings/new", data=form, headers=in_english(hr))
        assert response.status_code == 422, field
        assert words in error_beside(response.text, field), field
        assert "Nothing was saved" in response.text
        # Everything typed is still there, in its field.
        assert 'value="DIR-HRD-2025"' in response.text
        assert "Sept ans d&#39;expérience" in response.text
        assert 'value="HRD programme"' in response.text
        assert f'value="{change.get("timezone", "Europe/Brussels")}"' in response.text
    # Several mistakes are all shown at once.
    both = OMCT_FORM | {"salary_min": "5100", "salary_max": "4300", "timezone": "Mars/Base"}
    response = api.client.post("/app/postings/new", data=both, headers=in_english(hr))
    assert error_beside(response.text, "salary_max") and error_beside(response.text, "timezone")
    assert api.client.get("/postings", headers=hr.headers).json() == []
    # The API itself refuses the reversed salary range, naming the same field.
    body = {"ref": "x", "kind": "staff", "title": "x", "pipeline": "staff",
            "salary_min": 5100, "salary_max": 4300}  # fmt: skip
    refused = api.client.post("/postings", json=body, headers=hr.headers)
    assert refused.status_code == 422 and refused.json()["field"] == "salary_max"


def test_adding_a_row_re_renders_the_form_without_saving(api: Api) -> None:
    hr = api.staff(api.org(), "hr")
    form = OMCT_FORM | {"more": "languages"}
    response = api.client.post("/app/postings/new", data=form, headers=hr.page_headers)
    assert response.status_code == 200
    assert response.text.count('data-testid="language-row"') == 6  # four filled, two to type in
    assert "autofocus" in response.text
    assert api.client.get("/postings", headers=hr.headers).json() == []


def test_editing_keeps_what_is_not_changed_and_a_closed_posting_cannot_be_edited(
    api: Api,
) -> None:
    org = api.org()
    hr = api.staff(org, "hr")
    posting = make_posting(api.workflow, org, pipeline="staff", salary_min=4000,
                           salary_currency="EUR")  # fmt: skip
    before = api.client.get(f"/postings/{posting.id}", headers=hr.headers).json()
    form_page = api.client.get(f"/app/postings/{posting.id}/edit", headers=hr.page_headers)
    assert form_page.status_code == 200
    assert f'value="{before["title"]}"' in form_page.text and 'value="4000"' in form_page.text
    assert f'value="{CLOSING + timedelta(days=15)}"' in form_page.text  # the factory's date

    form = {
        "title": "Renamed call", "salary_min": "4100", "salary_currency": "EUR",
        "closes_on": (date.today() + timedelta(days=60)).isoformat(), "timezone": "Europe/Brussels",
        "language_code": ["fr"], "language_level": ["required"], "vacancies": "2",
    }  # fmt: skip
    saved = api.client.post(f"/app/postings/{posting.id}/edit", data=form,
                            headers=hr.page_headers, follow_redirects=False)  # fmt: skip
    assert saved.status_code == 303, saved.text
    after = api.client.get(f"/postings/{posting.id}", headers=hr.headers).json()
    assert (after["title"], after["salary_min"], after["vacancies"]) == ("Renamed call", 4100, 2)
    assert after["languages"] == [{"code": "fr", "level": "required"}]
    assert after["closes_at"] == before["closes_at"] and after["ref"] == before["ref"]

    api.workflow.fire(EntityType.posting, posting.id, "close", STAFF)
    refused = api.client.get(f"/app/postings/{posting.id}/edit", headers=in_english(hr))
    assert refused.status_code == 409
    assert "only a draft or an open posting can be edited" in refused.text
    posted = api.client.post(f"/app/postings/{posting.id}/edit", data=form | {"title": "Late"},
                             headers=hr.page_headers)  # fmt: skip
    assert posted.status_code == 422 and 'id="form-errors"' in posted.text
    assert api.client.get(f"/postings/{posting.id}", headers=hr.headers).json()["title"] == (
        "Renamed call"
    )
    page = api.client.get(f"/app/postings/{posting.id}", headers=hr.page_headers)
    assert 'id="edit-link"' not in page.text


def _event(api: Api, member: Staff, posting_id: int, event: str, **form: Any) -> Any:
    return api.client.post(
        f"/app/postings/{posting_id}/events/{event}", data=form,
        headers=in_english(member), follow_redirects=False,
    )  # fmt: skip


def _state(api: Api, member: Staff, posting_id: int) -> str:
    return api.client.get(f"/postings/{posting_id}", headers=member.headers).json()["state"]


def test_the_lifecycle_buttons_publish_close_and_reopen_with_a_new_date(api: Api) -> None:
    org = api.org()
    hr = api.staff(org, "hr")
    posting = make_posting(api.workflow, org, publish=False)
    page = api.client.get(f"/app/postings/{posting.id}", headers=in_english(hr)).text
    buttons = set(re.findall(r'data-testid="event-(\w+)"', page))
    assert buttons == {"publish", "cancel"}  # exactly the pipeline's events from draft

    published = _event(api, hr, posting.id, "publish")
    assert published.status_code == 303
    assert published.headers["location"] == f"/app/postings/{posting.id}?done=publish"
    assert _state(api, hr, posting.id) == "published"
    shown = api.client.get(published.headers["location"], headers=in_english(hr)).text
    assert "Done: Publish." in shown
    assert set(re.findall(r'data-testid="event-(\w+)"', shown)) == {"close", "cancel", "unpublish"}

    assert _event(api, hr, posting.id, "close").status_code == 303
    assert _state(api, hr, posting.id) == "closed"

    # Reopening with a past date is refused in words, beside its button, the date kept.
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    refused = _event(api, hr, posting.id, "reopen", closes_on=yesterday)
    assert refused.status_code == 409
    assert "Reopening needs a new closing date, in the future." in refused.text
    assert 'id="event-reopen-error"' in refused.text and f'value="{yesterday}"' in refused.text
    assert _state(api, hr, posting.id) == "closed"

    new_date = date.today() + timedelta(days=20)
    reopened = _event(api, hr, posting.id, "reopen", closes_on=new_date.isoformat(),
                      closes_time="12:30")  # fmt: skip
    assert reopened.status_code == 303
    stored = api.client.get(f"/postings/{posting.id}", headers=hr.headers).json()
    assert stored["state"] == "published"
    noon = datetime.combine(new_date, datetime.min.time().replace(hour=12, minute=30), BRUSSELS)
    assert datetime.fromisoformat(stored["closes_at"]) == noon.astimezone(UTC)


def test_a_refused_move_by_htmx_swaps_the_lifecycle_part_only(api: Api) -> None:
    org = api.org()
    hr = api.staff(org, "hr")
    posting = make_posting(api.workflow, org)
    headers = in_english(hr) | {"HX-Request": "true", "HX-Target": "lifecycle"}
    refused = api.client.post(f"/app/postings/{posting.id}/events/cancel", data={"reason": " "},
                              headers=headers)  # fmt: skip
    assert refused.status_code == 409
    assert refused.text.lstrip().startswith('<section id="lifecycle"')
    assert "This move needs a reason, which is kept in the history" in refused.text
    cancelled = api.client.post(f"/app/postings/{posting.id}/events/cancel",
                                data={"reason": "budget cut"}, headers=headers)  # fmt: skip
    assert cancelled.headers["HX-Redirect"] == f"/app/postings/{posting.id}?done=cancel"
    assert _state(api, hr, posting.id) == "cancelled"


def test_filling_short_of_people_asks_to_force_it_with_a_reason(api: Api) -> None:
    org = api.org()
    hr = api.staff(org, "hr")
    posting = make_posting(api.workflow, org)
    api.workflow.fire(EntityType.posting, posting.id, "close", STAFF)
    page = api.client.get(f"/app/postings/{posting.id}", headers=in_english(hr)).text
    assert "Mark it as filled anyway" in page
    assert _event(api, hr, posting.id, "fill", force="1", reason="").status_code == 409
    assert _event(api, hr, posting.id, "fill", force="1", reason="merged").status_code == 303
    assert _state(api, hr, posting.id) == "filled"


def test_the_list_shows_state_closing_date_and_counts_linking_to_their_applications(
    api: Api,
) -> None:
    org = api.org()
    hr = api.staff(org, "hr")
    call = make_posting(api.workflow, org, title="Coordination jeunesse")
    draft = make_posting(api.workflow, org, title="Brouillon", publish=False)
    first, second = make_application(api.workflow, call), make_application(api.workflow, call)
    api.workflow.fire(EntityType.application, first.id, "screen", STAFF)
    page = api.client.get("/app/postings", headers=hr.page_headers)
    assert page.status_code == 200
    row = page.text.split(f'id="posting-{call.id}"')[1].split("</tr>")[0]
    assert "Ouvert aux candidatures" in row
    assert f'href="/app/applications?posting_id={call.id}&amp;state=received"' in row
    assert re.search(r"Candidature reçue <strong>1</strong>", row)
    assert re.search(r"En cours d&#39;examen <strong>1</strong>", row)
    closing_day = format_date(date.today() + timedelta(days=60), "long", locale="fr_BE")
    assert f"{closing_day}, 23:59" in row and "(Europe/Brussels)" in row  # the factory's date

    listed = api.client.get(f"/app/applications?posting_id={call.id}&state=received&idle_days=&q=",
                            headers=hr.page_headers)  # fmt: skip
    assert listed.status_code == 200
    assert f'href="/app/applications/{second.id}"' in listed.text
    assert f'href="/app/applications/{first.id}"' not in listed.text

    drafts = api.client.get("/app/postings?state=draft&kind=&q=", headers=hr.page_headers).text
    assert f'id="posting-{draft.id}"' in drafts and f'id="posting-{call.id}"' not in drafts
    partial = api.client.get("/app/postings?state=draft", headers=hr.page_headers | {
        "HX-Request": "true", "HX-Target": "postings"})  # fmt: skip
    assert partial.text.lstrip().startswith('<div id="postings"')


def test_recruiters_see_their_postings_only_and_interviewers_change_nothing(api: Api) -> None:
    org = api.org()
    mine, theirs = api.staff(org, "recruiter"), api.staff(org, "recruiter")
    own = make_posting(api.workflow, org, owner_id=mine.id, title="Mine")
    other = make_posting(api.workflow, org, owner_id=theirs.id, title="Theirs")
    page = api.client.get("/app/postings", headers=mine.page_headers).text
    assert f'id="posting-{own.id}"' in page and f'id="posting-{other.id}"' not in page
    assert 'id="new-posting"' in page
    assert api.client.get(f"/app/postings/{other.id}", headers=mine.page_headers).status_code == 404
    refused = _event(api, mine, other.id, "close")
    assert refused.status_code == 404 and _state(api, theirs, other.id) == "published"
    assert api.client.get(f"/app/postings/{other.id}/edit",
                          headers=mine.page_headers).status_code == 404  # fmt: skip

    interviewer = api.staff(org, "interviewer")
    listed = api.client.get("/app/postings", headers=interviewer.page_headers).text
    assert 'id="new-posting"' not in listed
    new = api.client.get("/app/postings/new", headers=interviewer.page_headers)
    assert new.status_code == 403
    created = api.client.post("/app/postings/new", data=OMCT_FORM, headers=interviewer.page_headers)
    assert created.status_code == 403


def test_the_pages_speak_french_and_english(api: Api) -> None:
    org = api.org()
    hr = api.staff(org, "hr")
    posting = make_posting(api.workflow, org)
    french = api.client.get(f"/app/postings/{posting.id}", headers=hr.page_headers).text
    assert "Cycle de vie" in french and "Clôturer" in french and "Ouvrir le tableau" in french
    english = api.client.get(f"/app/postings/{posting.id}", headers=in_english(hr)).text
    assert "Lifecycle" in english and ">Close<" in english and "Open the board" in english
    form = api.client.get("/app/postings/new", headers=in_english(hr)).text
    assert "Closing date" in form and "Workload split" in form
    assert "Date de clôture" in api.client.get("/app/postings/new", headers=hr.page_headers).text
