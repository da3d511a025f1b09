"""The candidate's status page: THE private link of an application (Settings.status_url; the
e-mails point here). Where the application stands in plain words (the pipeline's `candidate`
texts), what comes next, the upcoming interview, the stages reached (never notes, feedback or a
rejection's reason), withdrawing (after a confirmation page) and asking for a copy of one's data.

Everything goes through the API's code (api/routes/public.py): `by_token`, `status_of`,
`timeline`, `upcoming_interviews`, `withdraw_application` and `request_data_copy` (which records
the request, tells HR and sets the one-month deadline: workflow/data_requests.py).

No CSRF check on this router: there is no session to protect. The token in the address is the
capability, as in a password-reset link; a forged form would have to know it. The page is the
candidate's language unless they chose another with the language switch (the cookie); it is kept
out of caches, search engines and Referer headers, since its address is the key.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from api.deps import get_container
from api.pages.i18n import Translator, pick_language
from api.pages.web import LANG_COOKIE, pages_of, redirect, render, translator
from api.problems import Problem
from api.routes import public
from workflow import data_requests
from workflow.models import Candidate, Organisation, Posting

router = APIRouter(include_in_schema=False)

TokenPath = Annotated[str, Path(min_length=1, max_length=64)]
PRIVATE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}
# What the page says after a form, by the `done` of its address.
DONE = ("withdrawn", "data_request", "data_request_open")


@router.get("/status/{token}")
def status_page(request: Request, token: TokenPath, done: str | None = None) -> Response:
    context = _context(request, token)
    if done in DONE:
        context["notice"] = context["t"](f"status.done_{done}")
    return render(request, "status.html", context, headers=PRIVATE)


@router.get("/status/{token}/withdraw")
def confirm_withdraw(request: Request, token: TokenPath) -> Response:
    """The confirmation step; the page itself when withdrawing is no longer possible."""
    context = _context(request, token)
    if not context["status"].can_withdraw:
        return redirect(f"/status/{token}", request)
    return render(request, "status_withdraw.html", context, headers=PRIVATE)


@router.post("/status/{token}/withdraw")
def withdraw(request: Request, token: TokenPath) -> Response:
    try:
        public.withdraw_application(token, get_container(request))
    except Problem as problem:
        if problem.status == 404:
            raise _unknown(request) from None
        context = _context(request, token)
        context["error"] = context["t"](
            "status.cannot_withdraw", stage=context["status"].state_label
        )
        return render(request, "status.html", context, status=problem.status, headers=PRIVATE)
    return redirect(f"/status/{token}?done=withdrawn", request)


@router.post("/status/{token}/data-request")
def data_request(request: Request, token: TokenPath) -> Response:
    try:
        receipt = public.request_data_copy(token, get_container(request))
    except Problem as problem:
        if problem.status == 404:
            raise _unknown(request) from None
        raise
    done = "data_request" if receipt.recorded_now else "data_request_open"
    return redirect(f"/status/{token}?done={done}", request)


def _context(request: Request, token: str) -> dict[str, Any]:
    """The page's facts, read in one transaction, in the candidate's language."""
    workflow = get_container(request).workflow
    with workflow.sessions.begin() as session:
        try:
            application = public.by_token(session, token)
        except Problem:
            raise _unknown(request) from None
        candidate = session.get_one(Candidate, application.candidate_id)
        lang = pick_language(request.cookies.get(LANG_COOKIE), candidate.language)
        posting = session.get_one(Posting, application.posting_id)
        org = session.get_one(Organisation, application.organisation_id)
        return {
            "t": Translator(pages_of(request).words, lang),
            "lang": lang,
            "zone": org.timezone,
            "token": token,
            "status": public.status_of(workflow, session, application, lang),
            "stages": public.timeline(workflow, session, application, lang),
            "interviews": public.upcoming_interviews(session, application, workflow.clock()),
            "data_request": data_requests.open_request(session, application.candidate_id),
            "contact": {"name": posting.contact_name, "email": posting.contact_email},
            "notice": "",
            "error": "",
        }


def _unknown(request: Request) -> Problem:
    """An unknown link (or one whose data retention has deleted), in the visitor's language."""
    return Problem(404, "not-found", "Not found", translator(request)("status.unknown_link"))
