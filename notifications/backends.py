"""Where the dispatcher's e-mails go: an SMTP server, or a folder of `.eml` files (the default).

Both take the stored, already rendered message (`Outgoing`, a copy of an outbox row), built once
into the same RFC 5322 bytes with the `emails` library (`build`): a multipart message with the
plain-text and HTML parts (quoted-printable, so an `.eml` file stays readable in an editor) and the
`.ics` attachment if any. Headers are never assembled from raw text: the display
names and subject go through the library, which encodes them (RFC 2047) and refuses line breaks;
the envelope recipient is the one stored address, validated here, so a crafted name cannot add a
header or a recipient. The only attachment accepted is an iCalendar file.

A backend is opened once per batch (`with backend:`), so SMTP uses one connection for the whole
batch. `send()` returns when the message is delivered (SMTP: the server answered 250 to DATA;
folder: the file is in place). It raises `Refused` when the server or the checks here refuse this
message (permanent for a 5xx reply or a message that can never be built, else worth retrying);
any other exception means the backend itself failed (server unreachable, login refused,
connection lost, disk full): the dispatcher then gives up the rest of the batch and retries later.
"""

from __future__ import annotations

import contextlib
import email.charset
import hashlib
import logging
import os
import re
import smtplib
import ssl
import tempfile
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime, parseaddr
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import emails
from emails.backend.smtp.backend import SMTPBackend
from emails.backend.smtp.client import SMTPClientWithResponse, SMTPClientWithResponse_SSL
from emails.exc import BadHeaderError
from emails.utils import SafeMIMEText

from config.settings import Settings
from notifications.scrub import eml_path

log = logging.getLogger("vivier.dispatcher")

# One address, no display name, comment, group or second address; what an SMTP envelope takes.
ADDRESS = re.compile(r"[^\s@<>()\[\],;:\"\\]{1,64}@[^\s@<>()\[\],;:\"\\]{1,255}")
ICS_TYPE = re.compile(r"text/calendar(; *[A-Za-z-]+=[A-Za-z0-9._-]+)*")
ICS_NAME = re.compile(r"[\w. -]{1,100}\.ics")


class Refused(Exception):
    """This message was refused (by the server or by the checks here), not the backend down."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


@dataclass(frozen=True)
class Outgoing:
    """What is sent of an outbox row: its stored, already rendered content."""

    id: int
    dedup_key: str
    to_email: str
    to_name: str
    subject: str
    text_body: str
    html_body: str
    created_at: datetime
    attachments: list[dict[str, Any]] = field(default_factory=list)


class Backend(Protocol):
    """Opened once per batch (`with backend:`); see the module's docstring for `send`."""

    def __enter__(self) -> Backend: ...

    def __exit__(self, *exc: object) -> None: ...

    def send(self, outgoing: Outgoing, data: bytes) -> None: ...


# --- Building a message -------------------------------------------------------------------------


def message_id(outgoing: Outgoing, mail_from: str) -> str:
    """The Message-ID of an outbox row: the same at every attempt, so a message sent twice after a
    crash is recognisably the same one; unique across installations sharing a domain through the
    digest of the row's deduplication key and creation time."""
    digest = hashlib.sha256(f"{outgoing.dedup_key}|{outgoing.created_at.isoformat()}".encode())
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "vivier.invalid"
    return f"<vivier.{outgoing.id}.{digest.hexdigest()[:16]}@{domain}>"


def one_line(text: str) -> str:
    """A header's text on one line: control characters (CR, LF, tab...) become spaces. The
    library would refuse a line break; a name or subject must not cost the message."""
    cleaned = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    return " ".join(cleaned.split())


def checked_address(address: str) -> str:
    """`address` if it is one plain address, else Refused (permanently)."""
    if not ADDRESS.fullmatch(address):
        raise Refused(f"not a deliverable address: {address!r}", permanent=True)
    return address


class _Message(emails.Message):
    """The library's message with quoted-printable text parts (it sets base64 for UTF-8)."""

    def _build_text_part(self) -> SafeMIMEText | None:
        return SafeMIMEText(self.text_body, "plain", _QUOTED_PRINTABLE) if self.text_body else None

    def _build_html_part(self) -> SafeMIMEText | None:
        return SafeMIMEText(self.html_body, "html", _QUOTED_PRINTABLE) if self.html_body else None


_QUOTED_PRINTABLE = email.charset.Charset("utf-8")
_QUOTED_PRINTABLE.body_encoding = email.charset.QP


def build(outgoing: Outgoing, mail_from: str, sent_at: datetime) -> bytes:
    """The message's bytes; Refused (permanently) if it cannot be built."""
    address = checked_address(outgoing.to_email)
    message = _Message(
        mail_from=parseaddr(mail_from),
        mail_to=(one_line(outgoing.to_name) or None, address),
        subject=one_line(outgoing.subject),
        text=outgoing.text_body,
        html=outgoing.html_body,
        date=format_datetime(sent_at),  # a string: the library would read a datetime as local
        message_id=message_id(outgoing, mail_from),
        # RFC 3834: automatic, so out-of-office replies are not sent back to us.
        headers={"Auto-Submitted": "auto-generated"},
    )
    for attachment in outgoing.attachments:
        message.attach(**_ics(attachment))
    try:
        return message.as_bytes()
    except (BadHeaderError, ValueError) as exc:
        raise Refused(f"cannot build the message: {exc}", permanent=True) from None


@dataclass(frozen=True)
class _Built:
    """Built bytes, as the library's `sendmail` takes a message: anything with `as_bytes()`."""

    data: bytes

    def as_bytes(self) -> bytes:
        return self.data


def _ics(attachment: dict[str, Any]) -> dict[str, Any]:
    """An attachment as `emails` takes it, if it is an iCalendar file (the only kind sent)."""
    name, kind = attachment.get("filename", ""), attachment.get("content_type", "")
    if not (ICS_NAME.fullmatch(name) and ICS_TYPE.fullmatch(kind)):
        raise Refused(f"attachment refused (only .ics): {name!r} {kind!r}", permanent=True)
    if "charset=" not in kind:
        kind += "; charset=utf-8"
    return {"filename": name, "mime_type": kind, "data": attachment.get("text", "")}


# --- SMTP ---------------------------------------------------------------------------------------


def _verified() -> ssl.SSLContext:
    """The system's certificate authorities, with host name checks (smtplib's default skips
    them, and so would the library)."""
    return ssl.create_default_context()


class _Client(SMTPClientWithResponse):
    def starttls(self, *args: Any, context: ssl.SSLContext | None = None, **kwargs: Any) -> Any:
        return super().starttls(*args, context=context or _verified(), **kwargs)


class _TlsClient(SMTPClientWithResponse_SSL):
    def _get_socket(self, host: str, port: int, timeout: float) -> Any:
        self.context = _verified()
        return super()._get_socket(host, port, timeout)


class _SMTPBackend(SMTPBackend):
    connection_cls = _Client
    connection_ssl_cls = _TlsClient


class SmtpBackend:
    """The `emails` SMTP backend, one connection per batch, with `fail_silently=False`: the
    library's default swallows errors. Every response is checked as well."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.mail_from = parseaddr(settings.mail_from)[1]
        self._smtp: _SMTPBackend | None = None

    def __enter__(self) -> SmtpBackend:
        s = self.settings
        options: dict[str, Any] = {"host": s.smtp_host, "port": s.smtp_port}
        options["timeout"] = s.smtp_timeout_s
        if s.smtp_user:
            options |= {"user": s.smtp_user, "password": s.smtp_password}
        # The connection is made at the first send, so a server down is that send's failure.
        self._smtp = _SMTPBackend(
            ssl=s.smtp_security == "tls",
            tls=s.smtp_security == "starttls",
            fail_silently=False,
            **options,
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.close()  # QUIT; every message already has its answer
        except Exception as error:
            log.warning("closing the SMTP connection failed: %s", error)

    def send(self, outgoing: Outgoing, data: bytes) -> None:
        assert self._smtp is not None, "use `with backend:`"
        try:
            response = self._smtp.sendmail(
                from_addr=self.mail_from, to_addrs=[outgoing.to_email], msg=_Built(data)
            )
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise _refusal(exc.smtp_code, exc.smtp_error) from None
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _refusal(code, text) from None
        if response is None or not response.success:
            # Not expected with fail_silently=False; never count an unclear answer as delivered.
            status = None if response is None else response.status_code
            raise Refused(f"no clear answer from the SMTP server ({status})", permanent=False)


def _refusal(code: int, text: bytes | str) -> Refused:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return Refused(f"SMTP {code} {one_line(text)}", permanent=500 <= code < 600)


# --- Folder -------------------------------------------------------------------------------------


class FolderBackend:
    """Each message as `<mail_dir>/<id:08d>.eml`, the bytes SMTP would send, written atomically
    (a temporary file renamed into place). Sending again overwrites the same file."""

    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = mail_dir

    def __enter__(self) -> FolderBackend:
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def send(self, outgoing: Outgoing, data: bytes) -> None:
        target = eml_path(self.mail_dir, outgoing.id)
        # Owner-only (mkstemp's 0600): the files hold candidates' personal data.
        handle, temporary = tempfile.mkstemp(dir=self.mail_dir, prefix=f".{target.name}.")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


def from_settings(settings: Settings) -> Backend:
    """The backend the settings name: 'folder' (the default) or 'smtp'."""
    if settings.email_backend == "smtp":
        return SmtpBackend(settings)
    return FolderBackend(settings.effective_mail_dir)


def describe(settings: Settings) -> str:
    """Where the e-mails go, in a few words, for the command line."""
    if settings.email_backend == "smtp":
        login = f" as {settings.smtp_user}" if settings.smtp_user else ""
        return f"SMTP {settings.smtp_host}:{settings.smtp_port} ({settings.smtp_security}{login})"
    return f".eml files in {settings.effective_mail_dir}"
