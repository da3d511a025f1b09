"""The e-mail dispatcher against plain smtplib, to the same SMTP server (issue 6, Benchmark).

    .venv/bin/python -m bench.emails [--messages 10000] [--recipients 1000] [--rounds 3]
        [--batch 50] [--database-url URL] [--database-name NAME] [--keep-database]

A scratch database is created on the server (dropped at the end) and migrated, with one
organisation. An aiosmtpd server runs in a child process of its own (spawned, so it does not share
the measured process's interpreter), accepts everything and counts each Message-ID it receives.

Each round loads `--messages` fresh queued outbox rows in bulk with SQL (rendered content of a
realistic size: a French subject and recipient name, a 1.3 KB plain-text part, a 3.4 KB HTML
part, and an `.ics` attachment on every tenth, to `--recipients` addresses in turn; earlier
rounds' sent rows stay in the table), then times, in alternating order:
- dispatcher: `notifications.dispatcher.drain()` with the SMTP backend, as `vivier dispatcher`
  runs it: claims of `--batch` rows (lease, `FOR UPDATE SKIP LOCKED`), the message built with the
  `emails` library, sent over one connection per batch, each response checked, the outcome
  recorded; from the first claim to the last record.
- smtplib: the same rendered rows, read beforehand (not timed), each built with the standard
  library (`email.message.EmailMessage`: the two parts, the attachment) and sent with
  `smtplib.SMTP.send_message` over one connection for the whole run; no database.
- prebuilt: the floor, only the SMTP conversation: the same standard-library messages built
  before the timer starts, their bytes sent with `smtplib.SMTP.sendmail` over one connection.
The aim (>= 0.8) is against smtplib; against prebuilt the ratio shows what building and the
database cost on top of the conversation itself.
The server's counts prove every message arrived once; the rows must all be sent.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import smtplib
import socket
import statistics
import sys
import time
import traceback
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import psycopg

from bench.transitions import DEFAULT_SERVER, BenchError, log, scratch_database

START_TIMEOUT_S = 60
MAIL_FROM = ("Vivier", "no-reply@vivier.example.org")
KINDS = ("dispatcher", "smtplib", "prebuilt")


# --- Options --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    messages: int = 10_000
    recipients: int = 1_000
    rounds: int = 3
    batch: int = 50
    database_url: str = DEFAULT_SERVER
    database_name: str | None = None
    keep_database: bool = False


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="bench.emails", description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=Options.messages, help="per round")
    parser.add_argument("--recipients", type=int, default=Options.recipients, help="addresses")
    parser.add_argument("--rounds", type=int, default=Options.rounds, help="dispatcher + smtplib")
    parser.add_argument("--batch", type=int, default=Options.batch, help="dispatcher claims")
    parser.add_argument("--database-url", default=DEFAULT_SERVER, help="the server")
    parser.add_argument("--database-name", help="name of the scratch database (default: random)")
    parser.add_argument("--keep-database", action="store_true", help="do not drop it at the end")
    args = parser.parse_args(argv)
    if min(args.messages, args.recipients, args.rounds) < 1 or not 1 <= args.batch <= 50:
        parser.error("--messages, --recipients, --rounds must be positive, --batch 1 to 50")
    return Options(**vars(args))


# --- The SMTP server, in a process of its own -----------------------------------------------------

MESSAGE_ID = re.compile(rb"^Message-ID: *(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


class _Counting:
    """aiosmtpd handler: accepts everything, counts each Message-ID."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        head = envelope.content.split(b"\r\n\r\n", 1)[0]
        found = MESSAGE_ID.search(head)
        self.counts[found.group(1).decode() if found else "(none)"] += 1
        return "250 OK"


def smtp_server_child(port: int, commands: Any, answers: Any) -> None:
    """Serve on `port` until told to stop; answer "take" with the counts since the last take."""
    try:
        from aiosmtpd.controller import Controller

        handler = _Counting()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        answers.put(("ready",))
        while (command := commands.get()) != "stop":
            if command == "take":
                counts, handler.counts = handler.counts, Counter()
                answers.put(("counts", dict(counts)))
        controller.stop()
        answers.put(("stopped",))
    except BaseException:
        answers.put(("error", traceback.format_exc()))


class SmtpServer:
    def __init__(self, context: Any) -> None:
        self.port = _free_port()
        self.commands, self.answers = context.Queue(), context.Queue()
        self.process = context.Process(
            target=smtp_server_child, args=(self.port, self.commands, self.answers)
        )

    def _answer(self, expected: str) -> Any:
        answer = self.answers.get(timeout=START_TIMEOUT_S)
        if answer[0] != expected:
            raise BenchError(f"SMTP server: {answer[-1]}")
        return answer[1:]

    def start(self) -> None:
        self.process.start()
        self._answer("ready")

    def take(self) -> Counter[str]:
        """The Message-IDs received since the last take, with how many times each."""
        self.commands.put("take")
        return Counter(self._answer("counts")[0])

    def stop(self) -> None:
        if self.process.is_alive():
            self.commands.put("stop")
            self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.kill()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(multiprocessing.get_context("spawn"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- Data -----------------------------------------------------------------------------------------

TEXT = (
    (
        "Bonjour {name},\n\n"
        "Nous avons bien reçu votre candidature pour la mission « Éducation à la citoyenneté "
        "mondiale » et nous vous en remercions. Notre équipe bénévole l'examinera dans les deux "
        "semaines qui viennent, et vous recevrez une réponse, quelle qu'elle soit.\n\n"
    )
    + "Vous pouvez suivre l'état de votre candidature à tout moment : {link}\n\n" * 8
    + ("Avec nos salutations les plus cordiales,\nL'équipe des bénévoles\n")
)
HTML = (
    '<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{subject}</title></head>'
    '<body style="font-family: sans-serif; line-height: 1.5">'
    + "".join(f"<p>{line}</p>" for line in TEXT.split("\n\n"))
    + '<p><a href="{link}">Suivre ma candidature</a></p>' * 4
    + "</body></html>"
)
ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Vivier//bench//FR\r\nMETHOD:REQUEST\r\n"
    "BEGIN:VEVENT\r\nUID:interview-{n}@vivier.example.org\r\nSEQUENCE:0\r\n"
    "DTSTAMP:20261125T090000Z\r\nDTSTART;TZID=Europe/Brussels:20261203T143000\r\n"
    "DTEND;TZID=Europe/Brussels:20261203T153000\r\nSUMMARY:Entretien\r\n"
    "LOCATION:Rue de la Loi 1\\, Bruxelles\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)

LOAD = """
INSERT INTO outbox_message (organisation_id, dedup_key, template, language, recipient_kind,
    to_email, to_name, subject, text_body, html_body, attachments, status, attempts,
    next_attempt_at, created_at)
SELECT %(org)s, %(tag)s || ':' || g, 'application_received', 'fr', 'candidate',
    'person' || (g %% %(recipients)s) || '@bench.example.org', 'Zoë Müller-' || g,
    'Votre candidature n° ' || g || ' à « Éducation » est bien reçue',
    replace(replace(%(text)s, '{name}', 'Zoë ' || g), '{link}', %(link)s || g),
    replace(replace(replace(%(html)s, '{name}', 'Zoë ' || g), '{link}', %(link)s || g),
            '{subject}', 'Candidature ' || g),
    CASE WHEN g %% 10 = 0 THEN jsonb_build_array(jsonb_build_object(
        'filename', 'entretien.ics', 'content_type', 'text/calendar; method=REQUEST',
        'text', replace(%(ics)s, '{n}', g::text)))
    ELSE '[]'::jsonb END,
    'queued', 0, %(now)s, %(now)s
FROM generate_series(1, %(count)s::int) AS g
"""


def load(conninfo: str, org: int, tag: str, options: Options) -> None:
    now = datetime.now(UTC)
    params = {
        "org": org, "tag": tag, "recipients": options.recipients, "text": TEXT, "html": HTML,
        "ics": ICS, "link": "https://vivier.example.org/public/applications/", "now": now,
        "count": options.messages,
    }  # fmt: skip
    with psycopg.connect(conninfo) as conn:
        conn.execute(LOAD, params)
        conn.commit()
        conn.execute("ANALYZE outbox_message")


@dataclass(frozen=True)
class Row:
    id: int
    to_email: str
    to_name: str
    subject: str
    text_body: str
    html_body: str
    attachments: list[dict[str, str]]


def queued_rows(conninfo: str, tag: str) -> list[Row]:
    with psycopg.connect(conninfo) as conn:
        found = conn.execute(
            "SELECT id, to_email, to_name, subject, text_body, html_body, attachments "
            "FROM outbox_message WHERE dedup_key LIKE %s ORDER BY id",
            (f"{tag}:%",),
        ).fetchall()
    return [Row(*values) for values in found]


def _seed(conninfo: str) -> int:
    with psycopg.connect(conninfo) as conn:
        org = conn.execute(
            "INSERT INTO organisation (slug, name, default_language, timezone, created_at) "
            "VALUES ('bench', 'Benchmark', 'fr', 'Europe/Brussels', now()) RETURNING id"
        ).fetchone()[0]
        conn.commit()
    return org


# --- The two sides --------------------------------------------------------------------------------


def run_dispatcher(conninfo: str, port: int, options: Options) -> tuple[float, int]:
    """Seconds to drain the queue, and how many were sent."""
    from config.settings import Settings
    from notifications.backends import SmtpBackend
    from notifications.dispatcher import Options as DispatchOptions
    from notifications.dispatcher import drain
    from workflow.db import make_engine, session_factory

    settings = Settings(
        email_backend="smtp", smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
        dispatcher_batch=options.batch, mail_from=f"{MAIL_FROM[0]} <{MAIL_FROM[1]}>",
    )  # fmt: skip
    engine = make_engine(conninfo.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        sessions = session_factory(engine)
        with engine.connect():
            pass  # connected before the timer
        backend = SmtpBackend(settings)
        start = time.perf_counter()
        result = drain(sessions, backend, DispatchOptions.from_settings(settings))
        seconds = time.perf_counter() - start
    finally:
        engine.dispose()
    if result.down or result.retried or result.dead:
        raise BenchError(f"the dispatcher did not send everything: {result}")
    return seconds, result.sent


def build_plain(row: Row) -> EmailMessage:
    """The message as one would write it with the standard library."""
    message = EmailMessage()
    message["From"] = Address(MAIL_FROM[0], addr_spec=MAIL_FROM[1])
    message["To"] = Address(row.to_name, addr_spec=row.to_email)
    message["Subject"] = row.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = f"<plain.{row.id}@vivier.example.org>"
    message.set_content(row.text_body)
    message.add_alternative(row.html_body, subtype="html")
    for attachment in row.attachments:
        message.add_attachment(
            attachment["text"], subtype="calendar", filename=attachment["filename"],
            params={"method": "REQUEST"},
        )  # fmt: skip
    return message


def run_smtplib(rows: list[Row], port: int) -> tuple[float, int]:
    """Seconds to build and send every row over one connection, and how many were accepted."""
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        for row in rows:
            _check(smtp.send_message(build_plain(row), MAIL_FROM[1], [row.to_email]))
    return time.perf_counter() - start, len(rows)


def run_prebuilt(rows: list[Row], port: int) -> tuple[float, int]:
    """The floor: only the SMTP conversation, the messages built before the timer starts."""
    built = [build_plain(row).as_bytes(policy=policy.SMTP) for row in rows]
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        for row, data in zip(rows, built, strict=True):
            _check(smtp.sendmail(MAIL_FROM[1], [row.to_email], data))
    return time.perf_counter() - start, len(rows)


def _check(refused: dict[str, Any]) -> None:
    if refused:
        raise BenchError(f"smtplib: refused {refused}")


SIDES = {"dispatcher": None, "smtplib": run_smtplib, "prebuilt": run_prebuilt}


# --- Measures -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    round: int
    kind: str
    messages: int
    seconds: float
    duplicates: int  # messages the server received more than once

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def verify_dispatcher(conninfo: str, tag: str, counts: Counter[str], expected: int) -> int:
    """Every row of the round sent, each Message-ID received; returns the duplicates."""
    with psycopg.connect(conninfo) as conn:
        statuses = dict(
            conn.execute(
                "SELECT status::text, count(*) FROM outbox_message WHERE dedup_key LIKE %s "
                "GROUP BY status",
                (f"{tag}:%",),
            ).fetchall()
        )
        ids = {
            value
            for (value,) in conn.execute(
                "SELECT message_id FROM outbox_message WHERE dedup_key LIKE %s", (f"{tag}:%",)
            )
        }
    if statuses != {"sent": expected}:
        raise BenchError(f"dispatcher round {tag}: rows {statuses}, expected {expected} sent")
    if set(counts) != ids:
        raise BenchError(f"dispatcher round {tag}: the server's Message-IDs differ from the rows'")
    return sum(counts.values()) - len(counts)


def measure_round(bench: Bench, server: SmtpServer, number: int, options: Options) -> list[Measure]:
    tag = f"bench{number}"
    load(bench.conninfo, bench.org, tag, options)
    rows = queued_rows(bench.conninfo, tag)
    order = KINDS if number % 2 else tuple(reversed(KINDS))
    measures = []
    for kind in order:
        server.take()  # start from zero
        if kind == "dispatcher":
            seconds, sent = run_dispatcher(bench.conninfo, server.port, options)
            counts = server.take()
            duplicates = verify_dispatcher(bench.conninfo, tag, counts, len(rows))
        else:
            seconds, sent = SIDES[kind](rows, server.port)
            counts = server.take()
            duplicates = sum(counts.values()) - len(counts)
            if len(counts) != len(rows):
                raise BenchError(f"{kind} round {number}: {len(counts)} received")
        log(f"round {number}: {kind} sent {sent:,} in {seconds:.2f} s")
        measures.append(Measure(number, kind, sent, seconds, duplicates))
    return measures


@dataclass(frozen=True)
class Bench:
    conninfo: str
    org: int


def run(options: Options) -> list[Measure]:
    from workflow.db import make_engine
    from workflow.migrate import upgrade

    with scratch_database(
        options.database_url, options.database_name, keep=options.keep_database
    ) as conninfo:
        engine = make_engine(conninfo)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        bench = Bench(conninfo, _seed(conninfo))
        with smtp_server() as server:
            log(f"SMTP server on 127.0.0.1:{server.port} (aiosmtpd, own process)")
            measures = []
            for number in range(1, options.rounds + 1):
                measures += measure_round(bench, server, number, options)
    return measures


def format_report(measures: list[Measure], options: Options) -> str:
    lines = [
        f"{options.messages:,} messages a round to {options.recipients:,} addresses, "
        f"batches of {options.batch}, {options.rounds} round(s)",
        "",
        "| round | side | messages | seconds | messages/s | received twice |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for m in sorted(measures, key=lambda m: (m.round, KINDS.index(m.kind))):
        lines.append(
            f"| {m.round} | {m.kind} | {m.messages:,} | {m.seconds:.2f} | {m.rate:,.0f} | "
            f"{m.duplicates} |"
        )
    totals = {
        kind: sum(m.messages for m in measures if m.kind == kind)
        / sum(m.seconds for m in measures if m.kind == kind)
        for kind in KINDS
    }
    for baseline, label in (("smtplib", "smtplib (build + send)"), ("prebuilt", "send only")):
        ratios = []
        for number in range(1, options.rounds + 1):
            of_round = {m.kind: m for m in measures if m.round == number}
            ratios.append(of_round["dispatcher"].rate / of_round[baseline].rate)
        overall = totals["dispatcher"] / totals[baseline]
        aim = " (aim: >= 0.8)" if baseline == "smtplib" else ""
        lines += [
            "",
            f"ratio dispatcher / {label}: {overall:.2f} overall{aim}; per round "
            f"{', '.join(f'{r:.2f}' for r in ratios)}, median {statistics.median(ratios):.2f}",
        ]
    lines.append("overall rates: " + ", ".join(f"{kind} {totals[kind]:,.0f}/s" for kind in KINDS))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    try:
        measures = run(options)
    except Exception:
        traceback.print_exc()
        log("bench.emails: failed")
        return 1
    print(format_report(measures, options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
