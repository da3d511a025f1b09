"""Uploaded documents: accepted by what they contain, never by their name or declared type.

- PDF: starts with `%PDF-`;
- DOCX: a zip archive holding `[Content_Types].xml` and entries under `word/`;
- ODT: a zip archive whose first entry, `mimetype`, says `application/vnd.oasis.opendocument.text`.

A file is read in chunks and refused as soon as it passes `upload_max_bytes` (413). Archives are
checked from their directory, without unpacking them: at most `upload_max_zip_entries` entries
(counted before zipfile reads the directory), declared sizes adding up to at most
`upload_max_unzipped_bytes`, no entry expanding more than MAX_RATIO times (a zip bomb's sizes
may be honest: it is the ratio that gives it away), no absolute path, no `..`, no encryption,
no ZIP64 (422). Python's zipfile never unpacks an entry past its
declared size, so a lying size cannot hide a bigger payload from a reader that uses it.

Accepted files are written to the storage folder under generated names (uuid4 hex and the
extension of the detected type, see workflow/documents.py): the client's file name is neither
used nor kept. `Staging` removes the files it wrote when the unit of work that records them
fails, so no file outlives a refused request.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import struct
import zipfile
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from fastapi import Request, Response
from fastapi.routing import APIRoute

from api.problems import MEDIA_TYPE, Problem, invalid
from config.settings import Settings
from workflow.documents import new_storage_name

CHUNK = 64 * 1024
MAX_RATIO = 100  # uncompressed : compressed; office documents stay far below (about 10)
RATIO_FLOOR = 1024 * 1024  # smaller entries may compress as well as they like: they are harmless
MAX_FILES = 2  # a CV and a cover letter
FORM_SLACK = 1024 * 1024  # the form's text fields and the multipart framing, beside the files
ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"
END_OF_DIRECTORY = b"PK\x05\x06"
ZIP64_LOCATOR = b"PK\x06\x07"
DIRECTORY_ENTRY = b"PK\x01\x02"
NOT_A_ZIP = "not a readable zip archive (DOCX and ODT are zips)"


@dataclass(frozen=True)
class FileType:
    content_type: str
    extension: str


PDF = FileType("application/pdf", "pdf")
DOCX = FileType("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx")
ODT = FileType("application/vnd.oasis.opendocument.text", "odt")
ACCEPTED = (PDF, DOCX, ODT)


@dataclass(frozen=True)
class Upload:
    """A file that passed every check, still in the request's temporary file."""

    field: str
    type: FileType
    size: int
    sha256: str
    source: BinaryIO


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


# For the OpenAPI document of routes taking uploads.
UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    411: _problem_response("The request must declare its Content-Length."),
    413: _problem_response("A file (or the whole request) is larger than the limit."),
    415: _problem_response("A file is not a PDF, DOCX or ODT document (judged by its content)."),
}


def too_large(field: str, limit: int) -> Problem:
    return Problem(
        413, "upload-too-large", "File too large",
        f"{field}: larger than the limit of {limit} bytes", field=field, limit=limit,
    )  # fmt: skip


def unsupported(field: str) -> Problem:
    return Problem(
        415, "unsupported-file-type", "Unsupported file type",
        f"{field}: only PDF, DOCX and ODT documents are accepted (judged by their content)",
        field=field, accepted=[t.content_type for t in ACCEPTED],
    )  # fmt: skip


def refused_archive(field: str, detail: str) -> Problem:
    return Problem(
        422, "archive-refused", "Archive refused", f"{field}: {detail}", field=field,
        errors=[{"field": field, "detail": detail}],
    )  # fmt: skip


def check(field: str, source: BinaryIO, settings: Settings) -> Upload:
    """The upload in `source` if it is an acceptable document, else the Problem saying why."""
    source.seek(0)
    size, digest, head = _measure(field, source, settings.upload_max_bytes)
    if size == 0:
        raise invalid(field, "the file is empty")
    if head.startswith(b"%PDF-"):
        kind = PDF
    elif head.startswith(b"PK\x03\x04"):
        kind = _archive_type(field, source, size, settings)
    else:
        raise unsupported(field)
    return Upload(field, kind, size, digest, source)


def _measure(field: str, source: BinaryIO, limit: int) -> tuple[int, str, bytes]:
    """Size, sha256 and first bytes, reading no further than one chunk past the limit."""
    digest = hashlib.sha256()
    size, head = 0, b""
    while chunk := source.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise too_large(field, limit)
        if len(head) < 8:
            head += chunk[: 8 - len(head)]
        digest.update(chunk)
    return size, digest.hexdigest(), head


def _archive_type(field: str, source: BinaryIO, size: int, settings: Settings) -> FileType:
    _count_entries(field, source, size, settings.upload_max_zip_entries)
    source.seek(0)
    try:
        with zipfile.ZipFile(source) as archive:
            entries = archive.infolist()
            _check_entries(field, entries, size, settings)
            names = {entry.filename for entry in entries}
            if "[Content_Types].xml" in names and any(n.startswith("word/") for n in names):
                return DOCX
            if _odt_mimetype(archive, entries[0]):
                return ODT
    # zipfile raises NotImplementedError for a compression method it cannot read: not a document.
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError):
        raise refused_archive(field, NOT_A_ZIP) from None
    raise unsupported(field)


def _count_entries(field: str, source: BinaryIO, size: int, most: int) -> None:
    """Walk the central directory as zipfile will, but stop past `most` entries: zipfile builds
    an object per entry before anyone can count them (100,000 empty entries fit in 9 MB)."""
    tail_size = min(size, 22 + 0xFFFF)  # the end record and its longest comment
    source.seek(size - tail_size)
    tail = source.read(tail_size)
    at = tail.rfind(END_OF_DIRECTORY)
    if at < 0 or len(tail) - at < 22:
        raise refused_archive(field, NOT_A_ZIP)
    end = size - tail_size + at
    if end >= 20:
        source.seek(end - 20)
        if source.read(4) == ZIP64_LOCATOR:  # zipfile would trust the ZIP64 record instead
            raise refused_archive(field, "ZIP64 archives are not accepted")
    (remaining,) = struct.unpack("<I", tail[at + 12 : at + 16])
    if remaining > end:
        raise refused_archive(field, NOT_A_ZIP)
    source.seek(end - remaining)
    count = 0
    while remaining > 0:
        header = source.read(46)
        if len(header) < 46 or header[:4] != DIRECTORY_ENTRY:
            raise refused_archive(field, NOT_A_ZIP)
        count += 1
        if count > most:
            raise refused_archive(field, f"more than {most} entries in the archive")
        name, extra, comment = struct.unpack("<HHH", header[28:34])
        source.seek(name + extra + comment, io.SEEK_CUR)
        remaining -= 46 + name + extra + comment


def _odt_mimetype(archive: zipfile.ZipFile, first: zipfile.ZipInfo) -> bool:
    if first.filename != "mimetype" or first.file_size > 256:
        return False
    with archive.open(first) as entry:
        return entry.read(256).strip() == ODT_MIMETYPE


def _check_entries(
    field: str, entries: list[zipfile.ZipInfo], archive_size: int, settings: Settings
) -> None:
    if not entries:
        raise refused_archive(field, "the archive is empty")
    total = 0
    for entry in entries:
        name = entry.filename[:100]
        if _unsafe_name(entry.filename):
            raise refused_archive(field, f"entry {name!r} has an absolute path or '..'")
        if entry.flag_bits & 0x1:
            raise refused_archive(field, f"entry {name!r} is encrypted")
        if _bomb(entry.file_size, entry.compress_size):
            raise refused_archive(
                field, f"entry {name!r} expands more than {MAX_RATIO} times (a zip bomb)"
            )
        total += entry.file_size
    if total > settings.upload_max_unzipped_bytes:
        raise refused_archive(
            field, f"unpacks to more than {settings.upload_max_unzipped_bytes} bytes"
        )
    if _bomb(total, archive_size):
        raise refused_archive(field, f"expands more than {MAX_RATIO} times (a zip bomb)")


def _bomb(unpacked: int, packed: int) -> bool:
    return unpacked > RATIO_FLOOR and unpacked > MAX_RATIO * max(packed, 1)


def _unsafe_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    drive = len(name) > 1 and name[1] == ":"
    return name.startswith(("/", "\\")) or drive or ".." in parts


class Staging:
    """Files written for one unit of work: removed again if it ends with an exception.

    Wrap the database transaction in it, so that a failed commit also removes them:
    `with Staging(folder) as staging, sessions.begin() as session: ...`.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.written: list[Path] = []

    def __enter__(self) -> Staging:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            for path in self.written:
                path.unlink(missing_ok=True)

    def store(self, upload: Upload) -> str:
        """Write the upload under a new generated name; returns that name."""
        self.directory.mkdir(parents=True, exist_ok=True)
        name = new_storage_name(upload.type.extension)
        path = self.directory / name
        upload.source.seek(0)
        with path.open("xb") as target:
            self.written.append(path)  # before writing: a half-written file is removed too
            shutil.copyfileobj(upload.source, target, CHUNK)
        return name


class BoundedUploadRoute(APIRoute):
    """A route taking uploads: a request declaring more than the files and a form could hold is
    refused before its body is read (the multipart parser would otherwise spool all of it to
    disk), and one that does not declare its length is refused (411)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def bounded(request: Request) -> Response:
            settings: Settings = request.app.state.container.settings
            cap = MAX_FILES * settings.upload_max_bytes + FORM_SLACK
            declared = request.headers.get("content-length", "")
            if not declared.isdigit():
                raise Problem(
                    411, "length-required", "Content-Length required",
                    "send the request with a Content-Length header", field="Content-Length",
                )  # fmt: skip
            if int(declared) > cap:
                raise too_large("body", cap)
            return await handler(request)

        return bounded
