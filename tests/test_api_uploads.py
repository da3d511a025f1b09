"""Uploads over HTTP: documents are judged by their content; every attack is refused with a 4xx
naming the field and leaves nothing behind (no row, no file); staff of the organisation, and only
they, download what was stored."""

import hashlib
import io
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.api_support import Api, problem
from tests.factories import make_posting
from tests.test_api_public import PDF, assert_nothing_stored, stored_files, submit
from workflow.models import Document
from workflow.service import Workflow

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT_TYPE = "application/vnd.oasis.opendocument.text"


def zipped(entries: dict[str, bytes], mimetype: bytes | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if mimetype is not None:  # ODT: first, and stored uncompressed
            archive.writestr("mimetype", mimetype, compress_type=zipfile.ZIP_STORED)
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def docx(**extra: bytes) -> bytes:
    return zipped(
        {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"} | extra
    )


ODT = zipped({"content.xml": b"<office:document-content/>"}, mimetype=ODT_TYPE.encode())


def cv(data: bytes, name: str = "cv.pdf", content_type: str = "application/pdf") -> dict:
    return {"cv": (name, data, content_type)}


def test_docx_and_odt_are_judged_by_content_not_name(api: Api) -> None:
    posting = make_posting(api.workflow, api.org(), pipeline="staff")
    files = {
        "cv": ("cv.txt", docx(), "text/plain"),
        "cover_letter": ("letter", ODT, "application/octet-stream"),
    }
    assert submit(api, posting.id, files=files).status_code == 201
    with api.workflow.sessions.begin() as session:
        stored = {d.kind: d for d in session.scalars(select(Document))}
    assert stored["cv"].content_type == DOCX_TYPE and stored["cv"].storage_name.endswith(".docx")
    assert stored["cover_letter"].content_type == ODT_TYPE
    assert stored["cover_letter"].sha256 == hashlib.sha256(ODT).hexdigest()


ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(2000)
MZ = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(2000)
BOMB = docx(**{"word/media/filler.xml": bytes(30 * 1024 * 1024)})  # 30 MB of zeros, ~30 KB


@pytest.mark.parametrize(
    ("files", "status", "field", "says"),
    [
        pytest.param(cv(ELF), 415, "cv", "only PDF", id="renamed-elf-executable"),
        pytest.param(cv(MZ), 415, "cv", "only PDF", id="renamed-windows-executable"),
        pytest.param(cv(b"<html><script>alert(1)</script>"), 415, "cv", "only PDF", id="html"),
        pytest.param(cv(b""), 422, "cv", "empty", id="empty-file"),
        pytest.param(cv(BOMB, "cv.docx", DOCX_TYPE), 422, "cv", "zip bomb", id="zip-bomb-docx"),
        pytest.param(
            cv(docx(**{"../../etc/cron.d/evil": b"x"}), "cv.docx"), 422, "cv", "'..'",
            id="zip-slip",
        ),
        pytest.param(
            cv(docx(**{"/etc/passwd": b"x"}), "cv.docx"), 422, "cv", "absolute path",
            id="zip-absolute-path",
        ),
        pytest.param(
            cv(b"PK\x03\x04 not really a zip", "cv.docx"), 422, "cv", "not a readable zip",
            id="broken-zip",
        ),
        pytest.param(
            cv(zipped({"a.txt": b"hello"}), "cv.docx"), 415, "cv", "only PDF", id="plain-zip"
        ),
        pytest.param(
            cv(PDF) | {"cover_letter": ("l.pdf", ELF, "application/pdf")}, 415, "cover_letter",
            "only PDF", id="executable-cover-letter",
        ),
    ],
)  # fmt: skip
def test_a_bad_file_is_refused_and_nothing_is_stored(
    api: Api, files: dict[str, Any], status: int, field: str, says: str
) -> None:
    posting = make_posting(api.workflow, api.org())
    body = problem(submit(api, posting.id, files=files), status)
    assert body["field"] == field and says in body["detail"]
    assert_nothing_stored(api, posting)


def test_an_oversized_file_is_refused_with_413(workflow: Workflow, tmp_path: Path) -> None:
    api = Api(workflow, tmp_path, upload_max_bytes=len(PDF) + 100)
    posting = make_posting(api.workflow, api.org())
    body = problem(submit(api, posting.id, files=cv(PDF + bytes(101))), 413)
    assert body["field"] == "cv" and body["limit"] == len(PDF) + 100
    assert_nothing_stored(api, posting)
    assert submit(api, posting.id, files=cv(PDF + bytes(100))).status_code == 201


def test_a_request_far_over_the_limit_is_refused_before_it_is_read(
    workflow: Workflow, tmp_path: Path
) -> None:
    api = Api(workflow, tmp_path, upload_max_bytes=1000)
    posting = make_posting(api.workflow, api.org())
    body = problem(submit(api, posting.id, files=cv(PDF + bytes(3 * 1024 * 1024))), 413)
    assert body["field"] == "body"
    assert_nothing_stored(api, posting)


def test_a_request_without_a_declared_length_is_refused(api: Api) -> None:
    posting = make_posting(api.workflow, api.org())
    response = api.client.post(
        f"/public/postings/{posting.id}/applications",
        content=iter([b"--x\r\n"]),  # streamed: Transfer-Encoding chunked, no Content-Length
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert problem(response, 411)["field"] == "Content-Length"
    assert_nothing_stored(api, posting)


def test_archive_limits_come_from_the_settings(workflow: Workflow, tmp_path: Path) -> None:
    api = Api(workflow, tmp_path, upload_max_zip_entries=3, upload_max_unzipped_bytes=10_000)
    posting = make_posting(api.workflow, api.org())
    many = docx(**{f"word/part{i}.xml": b"<p/>" for i in range(3)})
    body = problem(submit(api, posting.id, files=cv(many, "cv.docx")), 422)
    assert body["field"] == "cv" and "more than 3 entries" in body["detail"]
    lying = bytearray(many)  # the end record claims 1 entry; the directory holds 5
    end = lying.rfind(b"PK\x05\x06")
    lying[end + 8 : end + 12] = (1).to_bytes(2, "little") * 2
    body = problem(submit(api, posting.id, files=cv(bytes(lying), "cv.docx")), 422)
    assert "more than 3 entries" in body["detail"]
    big = docx(**{"word/big.xml": bytes(range(256)) * 50})  # 12,800 bytes, not a bomb
    body = problem(submit(api, posting.id, files=cv(big, "cv.docx")), 422)
    assert "unpacks to more than 10000 bytes" in body["detail"]
    assert_nothing_stored(api, posting)


def test_a_path_in_the_file_name_is_ignored(api: Api) -> None:
    posting = make_posting(api.workflow, api.org())
    response = submit(api, posting.id, files=cv(PDF, "../../etc/passwd.pdf"))
    assert response.status_code == 201, response.text
    folder = api.settings.effective_storage_dir
    (name,) = stored_files(api)
    assert len(name) == len("0123456789abcdef0123456789abcdef.pdf") and "passwd" not in name
    assert (folder / name).read_bytes() == PDF
    everything = [p.name for p in Path(api.settings.var_dir).rglob("*")]
    assert not [n for n in everything if "passwd" in n]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", "Eve\r\nBcc: victim@example.org"),
        ("last_name", "Eve\nX-Injected: 1"),
        ("email", "eve@example.org\r\nBcc: victim@example.org"),
        ("email", "not an address"),
        ("phone", "+32\x00123"),
        ("first_name", "   "),
    ],
)
def test_header_injection_and_bad_text_are_refused(api: Api, field: str, value: str) -> None:
    posting = make_posting(api.workflow, api.org())
    body = problem(submit(api, posting.id, **{field: value}), 422)
    assert body["field"] == field
    assert_nothing_stored(api, posting)


def test_a_failure_while_storing_leaves_no_file_and_no_row(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    posting = make_posting(api.workflow, api.org(), pipeline="staff")
    copies = []
    copy = shutil.copyfileobj

    def disk_full_on_the_second_file(source: Any, target: Any, length: int = 0) -> None:
        copies.append(target.name)
        if len(copies) == 2:
            raise OSError(28, "No space left on device")
        copy(source, target, length)

    monkeypatch.setattr(shutil, "copyfileobj", disk_full_on_the_second_file)
    files = cv(PDF) | {"cover_letter": ("l.pdf", PDF, "application/pdf")}
    problem(submit(api, posting.id, files=files), 500)
    assert len(copies) == 2 and not Path(copies[0]).exists()  # written, then removed
    assert_nothing_stored(api, posting)


# --- Staff download -----------------------------------------------------------------------------


def test_staff_of_the_organisation_and_only_they_download_documents(api: Api) -> None:
    org = api.org()
    posting = make_posting(api.workflow, org)
    receipt = submit(api, posting.id, files=cv(PDF, "Mon CV.pdf")).json()
    application_id = receipt["application_id"]
    hr, other_hr = api.staff(org, "hr"), api.staff(api.org(), "hr")

    listed = api.client.get(f"/applications/{application_id}/documents", headers=hr.headers)
    assert listed.status_code == 200, listed.text
    (document,) = listed.json()
    assert document["kind"] == "cv" and document["sha256"] == hashlib.sha256(PDF).hexdigest()
    url = document["download_url"]

    download = api.client.get(url, headers=hr.headers)
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    disposition = download.headers["content-disposition"]
    assert disposition == f'attachment; filename="cv-{application_id}-{document["id"]}.pdf"'
    assert download.headers["x-content-type-options"] == "nosniff"

    hidden = problem(api.client.get(url, headers=other_hr.headers), 404)
    assert hidden["detail"] == f"document {document['id']} not found"
    problem(api.client.get(f"/applications/{application_id}/documents", headers=other_hr.headers),
            404)  # fmt: skip
    problem(api.client.get(url), 401)
    problem(api.client.get(f"/applications/{application_id}/documents"), 401)
