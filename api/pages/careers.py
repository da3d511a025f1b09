"""The public careers pages: the organisations with open calls (/careers), one organisation's open
calls (/careers/{org}) and their Atom feed (/careers/{org}/feed.xml), and each call's own page
with its full text, its schema.org JobPosting JSON-LD and the apply form
(/careers/{org}/{posting_id}, GET to read, POST to apply).

A page per call rather than every full text on the organisation's page: search engines read a
JobPosting from the call's own page (Google asks for it there, not on listings), the apply form
belongs to one call, and the seeds' calls run to pages each. The listing shows each call's start.

Everything goes through the API's code: the listings and `public_posting` (api/routes/public.py),
the JSON-LD (api/jobposting.py, the same dict the API serves), applying (api/applying.py: the
same checks, uploads and unit of work). The form's errors are shown beside their fields, every
one found at once, with what was typed put back; files cannot be put back by a browser, so the
form says so beside the file fields.

No CSRF check on this router: these pages have no session. Applying uses no credential a
visitor's browser holds (no cookie is read), so a forged cross-site form could do nothing the
forger could not do by posting the form directly.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from babel import Locale
from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import Response

from api import applying
from api.applying import (
    BAD_EMAIL,
    EMPTY,
    NO_COVER_LETTER,
    NO_CV,
    NO_PRIVACY,
    ONE_LINE,
    TOO_LONG,
    ApplicationForm,
)
from api.deps import IdPath, get_container
from api.jobposting import careers_url, date_posted, job_posting
from api.pages.i18n import Translator, pick_language
from api.pages.web import language as visitor_language
from api.pages.web import render, translator
from api.problems import Problem, from_domain, not_found
from api.routes import public
from api.uploads import UPLOAD_RESPONSES, BoundedUploadRoute
from api.wiring import Container
from workflow.errors import GuardFailed
from workflow.models import Organisation, Posting

router = APIRouter(include_in_schema=False)

SlugPath = Annotated[str, Path(min_length=1, max_length=64)]
ATOM = "http://www.w3.org/2005/Atom"
EXCERPT = 320  # characters of a call's text on the organisation's page
# Characters XML 1.0 cannot hold (a pasted form feed would make the feed unreadable).
NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# The form's fields, in the order they are shown (errors are listed in this order too).
FIELDS = (
    "first_name", "last_name", "email", "phone", "language", "cv", "cover_letter",
    "consent_privacy", "consent_talent_pool", "source",
)  # fmt: skip
# The invalid-input details of api/applying.py, as words for the candidate.
INVALID = {
    ONE_LINE: "error_one_line",
    EMPTY: "error_required",
    TOO_LONG: "error_too_long",
    BAD_EMAIL: "error_email",
    NO_PRIVACY: "error_privacy",
    NO_CV: "error_cv",
    NO_COVER_LETTER: "error_cover_letter",
}
FILE_PROBLEMS = {
    "upload-too-large": "error_too_large",
    "unsupported-file-type": "error_file_type",
    "archive-refused": "error_archive",
}


# --- The listings -------------------------------------------------------------------------------


@router.get("/careers")
def careers(request: Request) -> Response:
    workflow = get_container(request).workflow
    with workflow.sessions.begin() as session:
        organisations = public.open_organisations(session, workflow.clock())
        listed = [{"slug": org.slug, "name": org.name, "count": n} for org, n in organisations]
    return render(request, "careers.html", {"organisations": listed})


@router.get("/careers/{org}")
def organisation_page(request: Request, org: SlugPath) -> Response:
    container = get_container(request)
    workflow = container.workflow
    with _explained(request), workflow.sessions.begin() as session:
        organisation = public.organisation_by_slug(session, org)
        postings = public.open_postings(session, organisation, workflow.clock())
        shown = [public.public_posting(container, p, organisation) for p in postings]
        context = {"org": _org(organisation), "postings": shown, "excerpt": EXCERPT}
    context["feed_url"] = f"/careers/{org}/feed.xml"
    return render(request, "careers_org.html", context)


@router.get("/careers/{org}/feed.xml")
def feed(request: Request, org: SlugPath) -> Response:
    """The organisation's open calls as an Atom feed (RFC 4287), with absolute links."""
    container = get_container(request)
    workflow = container.workflow
    with _explained(request), workflow.sessions.begin() as session:
        organisation = public.organisation_by_slug(session, org)
        postings = public.open_postings(session, organisation, workflow.clock())
        entries = [(p, date_posted(session, p.id) or p.state_entered_at) for p in postings]
        xml = _atom(container, translator(request), organisation, entries)
    return Response(xml, media_type="application/atom+xml; charset=utf-8")


@contextmanager
def _explained(request: Request) -> Iterator[None]:
    """A call or organisation that is not (or no longer) there, in the visitor's words."""
    try:
        yield
    except Problem as problem:
        if problem.status != 404:
            raise
        words = translator(request)("careers.not_found")
        raise Problem(404, "not-found", "Not found", words) from None


def _org(org: Organisation) -> dict[str, str]:
    return {"slug": org.slug, "name": org.name}


def _atom(
    container: Container,
    t: Translator,
    org: Organisation,
    entries: list[tuple[Posting, datetime]],
) -> bytes:
    page = careers_url(container.settings, org.slug)
    root = ET.Element("feed", {"xmlns": ATOM, "xml:lang": t.lang})
    _add(root, "id", page)
    _add(root, "title", t("careers.org_title", org=org.name))
    ET.SubElement(root, "link", {"rel": "self", "href": f"{page}/feed.xml"})
    ET.SubElement(root, "link", {"rel": "alternate", "type": "text/html", "href": page})
    _add(root, "updated", max((at for _, at in entries), default=org.created_at).isoformat())
    _add(ET.SubElement(root, "author"), "name", org.name)
    for posting, posted in entries:
        url = careers_url(container.settings, org.slug, posting.id)
        entry = ET.SubElement(root, "entry")
        _add(entry, "id", url)
        _add(entry, "title", posting.title)
        ET.SubElement(entry, "link", {"rel": "alternate", "type": "text/html", "href": url})
        _add(entry, "published", posted.isoformat())
        _add(entry, "updated", posted.isoformat())
        ET.SubElement(entry, "category", {"term": posting.kind.value})
        _add(entry, "content", posting.description, type="text")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _add(parent: ET.Element, tag: str, text: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    element.text = NOT_XML.sub("", text)
    return element


# --- A call's page and the apply form -----------------------------------------------------------


@router.get("/careers/{org}/{posting_id}")
def posting_page(request: Request, org: SlugPath, posting_id: IdPath) -> Response:
    context = _posting(request, org, posting_id) | _blank_form(request)
    return render(request, "careers_posting.html", context)


def apply(
    request: Request,
    org: SlugPath,
    posting_id: IdPath,
    first_name: Annotated[str, Form()] = "",
    last_name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "",
    consent_privacy: Annotated[bool, Form()] = False,
    consent_talent_pool: Annotated[bool, Form()] = False,
    cv: Annotated[UploadFile | None, File()] = None,
    cover_letter: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Apply through the API's code; on a problem, the form again with its errors."""
    container = get_container(request)
    context = _posting(request, org, posting_id)  # 404 unless published, and the org's
    form = ApplicationForm(
        first_name=first_name, last_name=last_name, email=email,
        language=pick_language(language, visitor_language(request)), consent_privacy=consent_privacy,
        phone=phone, consent_talent_pool=consent_talent_pool, source=source,
    )  # fmt: skip
    cv, cover_letter = applying.given(cv), applying.given(cover_letter)
    now = container.workflow.clock()
    checked, problems = applying.check(container.settings, form, cv, cover_letter, now)
    missing = applying.cover_letter_missing(context["posting"].kind, cover_letter is not None)
    problems += [missing] if missing is not None else []
    if checked is not None and not problems:
        try:
            with _explained(request):  # unpublished since the page was shown
                receipt = applying.apply(container, posting_id, checked)
        except Problem as problem:
            if problem.status == 404:
                raise
            problems = [problem]
        except GuardFailed as refusal:  # closed since the page was shown
            problems = [from_domain(refusal)]
        else:
            done = context | {"status_url": receipt.status_url, "first_name": form.first_name}
            return render(request, "careers_applied.html", done, status=201)
    context |= _returned_form(request, form, problems)
    return render(request, "careers_posting.html", context, status=problems[0].status)


router.add_api_route(
    "/careers/{org}/{posting_id}",
    apply,
    methods=["POST"],
    responses=UPLOAD_RESPONSES,
    route_class_override=BoundedUploadRoute,
)


def _posting(request: Request, slug: str, posting_id: int) -> dict[str, Any]:
    """The call's page: the posting as the API shows it, its JSON-LD while it takes
    applications, and its facts in the visitor's words."""
    container = get_container(request)
    workflow = container.workflow
    with _explained(request), workflow.sessions.begin() as session:
        posting, org = applying.published(session, posting_id)
        if org.slug != slug:
            raise not_found("posting", posting_id)
        now = workflow.clock()
        taking = posting.closes_at is None or posting.closes_at >= now
        posted = date_posted(session, posting_id)
        jsonld = job_posting(container.settings, posting, org, posted) if taking else None
        shown = public.public_posting(container, posting, org)
    lang = visitor_language(request)
    return {
        "org": _org(org),
        "posting": shown,
        "open": taking,
        "jsonld": jsonld,
        "languages": _languages(shown.languages, lang),
        "max_mb": _megabytes(container.settings.upload_max_bytes),
        "feed_url": f"/careers/{slug}/feed.xml",
    }


def _languages(wanted: list[dict[str, str]], lang: str) -> list[dict[str, str]]:
    """Each language the call asks for, named in the visitor's language."""
    names = Locale.parse(lang).languages
    return [
        {
            "name": names.get(item.get("code", ""), item.get("code", "")),
            "level": item.get("level", ""),
        }
        for item in wanted
    ]


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.3g}"


def _blank_form(request: Request) -> dict[str, Any]:
    values = dict.fromkeys(FIELDS, "") | {"language": visitor_language(request)}
    values |= {"consent_privacy": False, "consent_talent_pool": False}
    return {"values": values, "errors": {}, "general": [], "returned": False}


def _returned_form(
    request: Request, form: ApplicationForm, problems: list[Problem]
) -> dict[str, Any]:
    """The form as it was sent, with each problem's words beside its field (the first problem
    of a field is enough) or above the form."""
    t = translator(request)
    errors: dict[str, str] = {}
    general: list[str] = []
    for problem in problems:
        field, words = _explain(t, problem, get_container(request).settings.upload_max_bytes)
        if field is None:
            general.append(words)
        else:
            errors.setdefault(field, words)
    values = {name: getattr(form, name) for name in ApplicationForm.__dataclass_fields__}
    ordered = {field: errors[field] for field in FIELDS if field in errors}
    return {"values": values, "errors": ordered, "general": general, "returned": True}


def _explain(t: Translator, problem: Problem, max_bytes: int) -> tuple[str | None, str]:
    """(field or None, words for the candidate) of a problem of api/applying.py or uploads."""
    field = problem.extra.get("field")
    field = field if field in FIELDS else None
    if problem.kind in FILE_PROBLEMS:
        return field, t(f"careers.{FILE_PROBLEMS[problem.kind]}", size=_megabytes(max_bytes))
    if problem.kind == "already-applied":
        return "email", t("careers.error_already_applied")
    if problem.kind == "guard-failed":
        return None, t("careers.error_closed")
    if problem.kind == "invalid-input" and field is not None:
        detail = (problem.detail or "").removeprefix(f"{field}: ")
        for start, key in INVALID.items():
            if detail.startswith(start):
                return field, t(f"careers.{key}")
        if field in ("cv", "cover_letter"):  # uploads.check: the file is empty
            return field, t("careers.error_empty_file")
        return field, t("careers.error_field")
    key = f"errors.{problem.kind}"
    return field, t(key) if key in t.words else problem.title
