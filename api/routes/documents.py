"""Documents (CV, cover letter) of an application: listed and downloaded by the staff who can see
the application, and nobody else (another organisation's document answers 404).

A download is always an attachment under a file name made here (kind, application, document),
never the name the candidate's computer gave it, with `nosniff` so no browser runs it as a page.
"""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlalchemy import select

from api.access import get_application, visible_applications
from api.deps import ContainerDep, CurrentUser, IdPath
from api.problems import Problem, not_found
from api.uploads import ACCEPTED
from workflow.documents import stored_path
from workflow.models import Application, Document

router = APIRouter(tags=["documents"])
log = logging.getLogger("vivier.api")


class DocumentOut(BaseModel):
    id: int
    application_id: int
    kind: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime
    download_url: str


def _out(document: Document) -> DocumentOut:
    assert document.id is not None
    return DocumentOut(
        id=document.id,
        application_id=document.application_id,
        kind=document.kind,
        content_type=document.content_type,
        size=document.size,
        sha256=document.sha256,
        created_at=document.created_at,
        download_url=f"/documents/{document.id}",
    )


@router.get(
    "/applications/{application_id}/documents",
    summary="The documents of an application, oldest first.",
    responses={404: {"description": "No such application (or not visible to you)."}},
)
def list_documents(
    application_id: IdPath, user: CurrentUser, container: ContainerDep
) -> list[DocumentOut]:
    with container.workflow.sessions.begin() as session:
        get_application(session, user, application_id)
        documents = session.scalars(
            select(Document).where(Document.application_id == application_id).order_by(Document.id)
        ).all()
        return [_out(document) for document in documents]


BINARY = {"schema": {"type": "string", "format": "binary"}}


@router.get(
    "/documents/{document_id}",
    summary="Download a document (as an attachment).",
    response_class=FileResponse,
    responses={
        200: {"content": {t.content_type: BINARY for t in ACCEPTED}},
        404: {"description": "No such document (or not visible to you)."},
    },
)
def download_document(
    document_id: IdPath, user: CurrentUser, container: ContainerDep
) -> FileResponse:
    with container.workflow.sessions.begin() as session:
        document = session.scalars(
            select(Document)
            .join(Application, Application.id == Document.application_id)
            .where(Document.id == document_id, visible_applications(user))
        ).first()
        if document is None:
            raise not_found("document", document_id)
    path = stored_path(container.settings.effective_storage_dir, document.storage_name)
    if path is None or not path.is_file():
        log.error("document %s: its file %r is missing", document_id, document.storage_name)
        raise Problem(500, "document-missing", "Stored file missing", "the error was logged")
    extension = path.suffix
    return FileResponse(
        path,
        media_type=document.content_type,
        filename=f"{document.kind}-{document.application_id}-{document.id}{extension}",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"},
    )
