"""A real SMTP server for the tests: aiosmtpd on a local port, which keeps what it accepts,
refuses what it is told to, and can go down and come back (the `smtp` fixture in conftest)."""

from __future__ import annotations

import asyncio
import email
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from functools import cached_property
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from config.settings import Settings
from tests.serve_support import free_port


@dataclass
class Received:
    rcpt_tos: list[str]
    content: bytes

    @cached_property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.content, policy=policy.default)

    @cached_property
    def headers(self) -> EmailMessage:  # quicker than the whole message
        return BytesHeaderParser(policy=policy.default).parsebytes(self.content)

    @property
    def message_id(self) -> str:
        return self.headers["Message-ID"]

    @property
    def subject(self) -> str:
        return self.headers["Subject"]


@dataclass
class Inbox:
    """The aiosmtpd handler: keeps what it accepts, refuses what it is told to (a reply per
    address, `times` times or for ever), and can pause before answering its n-th message."""

    received: list[Received] = field(default_factory=list)
    replies: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    pause_at: int | None = None
    paused: threading.Event = field(default_factory=threading.Event)
    resume: threading.Event = field(default_factory=threading.Event)

    def refuse(self, address: str, reply: str, times: int | None = None) -> None:
        self.replies[address] = (reply, times)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        reply, times = self.replies.get(address, (None, None))
        if reply is not None:
            if times is not None:
                self.replies[address] = (reply, times - 1)
                if times <= 1:
                    del self.replies[address]
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        self.received.append(Received(list(envelope.rcpt_tos), envelope.content))
        if self.pause_at is not None and len(self.received) == self.pause_at:
            self.paused.set()  # the client waits for this answer meanwhile
            await asyncio.get_running_loop().run_in_executor(None, self.resume.wait, 60)
        return "250 Message accepted for delivery"

    def by_recipient(self) -> dict[str, list[str]]:
        subjects: dict[str, list[str]] = defaultdict(list)
        for item in self.received:
            for address in item.rcpt_tos:
                subjects[address].append(item.subject)
        return subjects


class SmtpServer:
    """aiosmtpd on a port of its own, which can go down (connections refused) and come back."""

    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self._controller: Controller | None = None

    def up(self, **options: Any) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **options)
        self._controller.start()

    def down(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def settings(self, tmp_path: Path, **more: Any) -> Settings:
        plain = {"smtp_host": "127.0.0.1", "smtp_port": self.port, "smtp_security": "none"}
        return Settings(var_dir=tmp_path, email_backend="smtp", smtp_timeout_s=10, **plain | more)
