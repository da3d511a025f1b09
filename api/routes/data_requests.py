"""A candidate's requests for a copy of their personal data (made from their status link): HR
sees them from any of the candidate's applications and records when the copy was sent, which
cancels the reminder and lets the candidate ask again. The export itself is done by HR, outside
Vivier, for now."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from api.access import get_application
from api.deps import ContainerDep, CurrentUser, IdPath
from api.problems import Problem, forbidden
from api.security import Principal
from workflow import data_requests

router = APIRouter(prefix="/applications", tags=["data requests"])


def _candidate_of(session: Session, user: Principal, application_id: int) -> int:
    """The application's candidate: 404 when the user cannot see the application, then 403
    unless they are HR or an admin (another organisation's rows are never a 403)."""
    candidate_id = get_application(session, user, application_id).candidate_id
    if not user.sees_everything:
        raise forbidden("only admin and HR handle requests for a copy of personal data")
    return candidate_id


class DataRequestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    application_id: int
    requested_at: datetime
    due_at: datetime
    answered_at: datetime | None


@router.get(
    "/{application_id}/data-requests",
    summary="The candidate's requests for a copy of their data, newest first (HR).",
)
def list_data_requests(
    application_id: IdPath, user: CurrentUser, container: ContainerDep
) -> list[DataRequestOut]:
    with container.workflow.sessions.begin() as session:
        candidate_id = _candidate_of(session, user, application_id)
        found = data_requests.of_candidate(session, candidate_id)
        return [DataRequestOut.model_validate(r) for r in found]


@router.post(
    "/{application_id}/data-request/answered",
    summary="Record that the candidate's open request was answered (the copy sent) (HR).",
    responses={409: {"description": "The candidate has no open request."}},
)
def answer_data_request(
    application_id: IdPath, user: CurrentUser, container: ContainerDep
) -> DataRequestOut:
    workflow = container.workflow
    with workflow.sessions.begin() as session:
        candidate_id = _candidate_of(session, user, application_id)
        request = data_requests.open_request(session, candidate_id)
        if request is None:
            raise Problem(
                409, "no-open-request", "No open request",
                "the candidate has no unanswered request for a copy of their data",
            )  # fmt: skip
        answered = data_requests.answer(session, request.id, user.organisation_id, workflow.clock())
        return DataRequestOut.model_validate(answered)
