"""The `vivier` command line. Errors are one clear line on stderr and a non-zero exit, never a
traceback; every state change goes through the transition service like any other caller."""

import contextlib
import json
import signal
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from api.security import hash_password, revoke_user_tokens
from api.wiring import Container, build_container
from config.settings import Settings
from notifications import history as message_history
from notifications.models import OutboxMessage
from notifications.queue import Notifier
from notifications.render import LANGUAGES, TEMPLATES, Renderer, sample_context
from workflow import reports
from workflow.clock import system_clock
from workflow.context import Actor
from workflow.demo import load_demo
from workflow.demo_data import ORGANISATIONS as DEMO_ORGANISATIONS
from workflow.errors import WorkflowError
from workflow.migrate import upgrade
from workflow.models import (
    Application,
    DeadlineStatus,
    EntityType,
    Organisation,
    Posting,
    Role,
    TransitionRecord,
    User,
)
from workflow.pipeline import Pipeline
from workflow.pipeline_files import check_together, load_pipeline, load_pipelines
from workflow.scheduler import DEFAULT_INTERVAL_S, Scheduler, SweepResult, lock_single_scheduler
from workflow.service import normalise_email
from workflow.workers import WorkerClock

app = typer.Typer(
    help="Vivier: applicant-tracking workflows for NGOs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
pipelines_app = typer.Typer(help="Pipeline definition files.", no_args_is_help=True)
users_app = typer.Typer(help="Staff accounts and their tokens.", no_args_is_help=True)
emails_app = typer.Typer(help="E-mail templates and their rules.", no_args_is_help=True)

# Every command group of every part, registered in this one list (later: scheduler, emails...).
COMMAND_GROUPS: list[tuple[str, typer.Typer]] = [
    ("db", db_app),
    ("pipelines", pipelines_app),
    ("users", users_app),
    ("emails", emails_app),
]
for group_name, group in COMMAND_GROUPS:
    app.add_typer(group, name=group_name)


def _container() -> Container:
    return build_container(Settings())


def _out(text: str = "") -> None:
    typer.echo(text)


# --- db -----------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the schema, or upgrade it to the latest migration."""
    container = _container()
    upgrade(container.engine)
    _out(f"database at {container.engine.url.render_as_string()} is up to date")


# --- pipelines ----------------------------------------------------------------------------------


@pipelines_app.command("check")
def pipelines_check(
    files: Annotated[
        list[Path] | None, typer.Argument(help="Files to check (default: all).")
    ] = None,
) -> None:
    """Validate pipeline files: states, reachability, ways out and back, guards, effects."""
    if files:
        loaded = {path: load_pipeline(path) for path in files}
        check_together({p.name: p for p in loaded.values()})
        pipelines = list(loaded.values())
    else:
        pipelines = list(load_pipelines(Settings().pipelines_dir).values())
    for pipeline in pipelines:
        _out(
            f"ok  {pipeline.name:<10} {len(pipeline.states)} states, "
            f"{len(pipeline.transitions)} transitions  ({pipeline.path})"
        )


@pipelines_app.command("show")
def pipelines_show(
    name: str,
    mermaid: Annotated[bool, typer.Option(help="Print a Mermaid state diagram.")] = False,
    lang: Annotated[str, typer.Option(help="Language of labels: en or fr.")] = "en",
) -> None:
    """Print a pipeline's states and transitions, or its Mermaid diagram."""
    pipelines = load_pipelines(Settings().pipelines_dir)
    if name not in pipelines:
        raise click.BadParameter(f"no pipeline {name!r}; known: {', '.join(sorted(pipelines))}")
    pipeline = pipelines[name]
    _out(pipeline.to_mermaid() if mermaid else _describe(pipeline, lang))


def _describe(p: Pipeline, lang: str) -> str:
    lines = [f"{p.name}: {p.description}", f"file: {p.path}", "", "states:"]
    for state in p.states.values():
        marks = [
            m
            for m, on in (("initial", state.name == p.initial), ("final", p.is_final(state.name)))
            if on
        ]
        lines.append(f"  {state.name:<15} {state.label.get(lang, state.label['en'])}"
                     f"{'  [' + ', '.join(marks) + ']' if marks else ''}")  # fmt: skip
        for d in state.deadlines:
            fires = _deadline_work(d.event, d.action)
            offset = _offset(d.offset)
            if d.talent_pool_offset is not None:
                offset += f" ({_offset(d.talent_pool_offset)} with the talent-pool consent)"
            lines.append(f"  {'':<15}   deadline {d.kind}: {d.at} {offset}, {fires}")
    lines += ["", "transitions:"]
    for t in p.transitions:
        guards = f"  if {', '.join(t.guards)}" if t.guards else ""
        lines.append(f"  {t.source:<15} --{t.event}--> {t.dest}{guards}")
    return "\n".join(lines)


def _offset(offset: Any) -> str:
    months = offset.years * 12 + offset.months  # relativedelta turns 24 months into 2 years
    parts = [f"{v:+d}{u}" for u, v in (("mo", months), ("d", offset.days),
             ("h", offset.hours), ("m", offset.minutes)) if v]  # fmt: skip
    return " ".join(parts) or "+0d"


# --- demo, status, fire, history ----------------------------------------------------------------

# The demo users' password (README). Given only to demo users who have none yet.
DEMO_PASSWORD = "vivier-demo"


@app.command()
def demo(
    today: Annotated[
        str | None, typer.Option(help="Pretend today is this date (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Load the seeds' organisations, postings and fictional candidates (idempotent), then the status."""
    container = _container()
    upgrade(container.engine)
    summary = load_demo(
        container.workflow,
        date.fromisoformat(today) if today else None,
        password_hash=hash_password(DEMO_PASSWORD),
    )
    _out(str(summary))
    _out()
    _print_status(container, None)
    _print_demo_logins()


@app.command()
def status(
    org: Annotated[str | None, typer.Option(help="Only this organisation (slug).")] = None,
) -> None:
    """Applications by state for every posting, from the counts table."""
    _print_status(_container(), org)


def _print_status(container: Container, slug: str | None) -> None:
    with container.workflow.sessions() as session:
        query = select(Organisation).order_by(Organisation.id)
        if slug is not None:
            query = query.where(Organisation.slug == slug)
        organisations = session.scalars(query).all()
        if slug is not None and not organisations:
            raise click.BadParameter(f"no organisation with slug {slug!r}", param_hint="--org")
        if not organisations:
            _out("no organisations yet: run `vivier demo` to load the demo data")
        for organisation in organisations:
            _out(f"{organisation.name} ({organisation.slug})")
            for row in reports.posting_counts(session, organisation.id):
                _print_posting(container, row)
            _out()


def _print_posting(container: Container, row: reports.PostingCounts) -> None:
    _out(f"  {row.ref:<14} {row.title[:60]:<60} {row.state:<10} {row.total:>4} applications")
    states = container.workflow.pipelines[row.pipeline].states
    counts = [f"{state} {row.counts[state]}" for state in states if row.counts.get(state)]
    _out(f"  {'':<14} {' · '.join(counts) or '(none yet)'}")


@app.command()
def fire(
    kind: Annotated[EntityType, typer.Argument(help="application or posting")],
    entity_id: Annotated[int, typer.Argument(help="Its id.")],
    event: Annotated[str, typer.Argument(help="The event, e.g. screen, reject, publish.")],
    actor: Annotated[str, typer.Option(help="system, user:ID or candidate:ID.")] = "system",
    reason: Annotated[str | None, typer.Option(help="Why; recorded in the history.")] = None,
    payload: Annotated[str | None, typer.Option(help='JSON object, e.g. {"force": true}.')] = None,
    expected_version: Annotated[
        int | None, typer.Option(help="Refuse if the version moved.")
    ] = None,
) -> None:
    """Trigger an event, exactly as the API would."""
    try:
        who = Actor.parse(actor)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--actor") from None
    result = _container().workflow.fire(
        kind,
        entity_id,
        event,
        who,
        reason=reason,
        payload=_payload(payload),
        expected_version=expected_version,
    )
    _out(
        f"{kind.value} {entity_id}: {result.from_state} --{event}--> {result.to_state} "
        f"(version {result.version})"
    )


def _payload(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--payload") from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--payload")
    return value


@app.command()
def history(
    application_id: Annotated[int, typer.Argument(help="The application's id.")],
    posting: Annotated[bool, typer.Option(help="The id is a posting's.")] = False,
) -> None:
    """The audit trail of an application (or posting): who moved it, when and why."""
    entity_type = EntityType.posting if posting else EntityType.application
    with _container().workflow.sessions() as session:
        rows = session.scalars(
            select(TransitionRecord)
            .where(
                TransitionRecord.entity_type == entity_type,
                TransitionRecord.entity_id == application_id,
            )
            .order_by(TransitionRecord.id)
        ).all()
    if not rows:
        raise WorkflowError(f"{entity_type.value} {application_id} not found")
    for r in rows:
        actor = r.actor_kind.value if r.actor_id is None else f"{r.actor_kind.value}:{r.actor_id}"
        move = f"{r.from_state or '(new)'} --{r.event}--> {r.to_state}"
        why = f"  reason: {r.reason}" if r.reason else ""
        _out(f"{r.at:%Y-%m-%d %H:%M} UTC  {move:<40} by {actor:<14}{why}")


@app.command()
def messages(
    application_id: Annotated[
        int, typer.Argument(help="The application's id.", min=1, max=2**31 - 1)
    ],
) -> None:
    """The e-mails about an application: what the candidate and staff were sent, and when."""
    with _container().workflow.sessions() as session:
        if session.get(Application, application_id) is None:
            raise WorkflowError(f"application {application_id} not found")
        rows = message_history.of_application(session, application_id)
    if not rows:
        _out(f"no messages about application {application_id}")
    for message in rows:
        _out(_message_lines(message))


def _message_lines(m: OutboxMessage) -> str:
    to = f"{m.to_name} <{m.to_email}>" if m.to_name else m.to_email
    when = (
        f"sent {m.sent_at:%Y-%m-%d %H:%M}"
        if m.sent_at
        else f"{m.attempts} failed attempts"
        if m.attempts
        else "not sent yet"
    )
    lines = [
        f"{m.created_at:%Y-%m-%d %H:%M} UTC  {m.status.value:<6} {m.template:<28} "
        f"{m.recipient_kind.value:<9} {to}",
        f"{'':<22}subject: {m.subject}  ({m.language}, {when})",
    ]
    if m.last_error:
        lines.append(f"{'':<22}last error: {m.last_error}")
    return "\n".join(lines)


# --- scheduler, deadlines ----------------------------------------------------------------------


@app.command()
def scheduler(
    interval: Annotated[
        float, typer.Option(help="Seconds between sweeps (besides the one at each next due time).")
    ] = DEFAULT_INTERVAL_S,
    once: Annotated[
        bool, typer.Option(help="Only do what is due now (the catch-up), then exit.")
    ] = False,
) -> None:
    """Carry out due deadlines: catch up on what fell due, then run the clock until Ctrl-C.
    Several may run on PostgreSQL; on SQLite a second one is refused."""
    container = _container()
    runner = Scheduler(container.workflow, interval_s=interval)
    where = container.engine.url.render_as_string()
    if once:
        _out(f"caught up on {where}: {runner.sweep_once()}")
        return
    result = runner.start()
    _out(f"scheduler {runner.worker_id} on {where}, every {interval:g} s; Ctrl-C to stop")
    _out(f"caught up: {result}")
    runner.on_wake = _print_sweep
    _run_until_stopped(runner)


def _run_until_stopped(runner: WorkerClock[Any]) -> None:
    """Wait while the worker's clock runs; Ctrl-C or SIGTERM (a service manager's stop) stops it
    after the round under way."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        runner.wait()
    except KeyboardInterrupt:
        pass
    finally:
        runner.stop()
    _out(f"{runner.role} stopped")


def _interrupt(_signal: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _print_sweep(result: SweepResult) -> None:
    _out(f"{system_clock():%Y-%m-%d %H:%M:%S} UTC  swept: {result}")


@app.command()
def dispatcher(
    interval: Annotated[
        float | None,
        typer.Option(help="Seconds between looks for new e-mails [default: the settings' 5]."),
    ] = None,
    once: Annotated[bool, typer.Option(help="Only send what is due now, then exit.")] = False,
) -> None:
    """Send queued e-mails (SMTP, or .eml files in the mail folder): what is due, then every few
    seconds until Ctrl-C. Several may run on PostgreSQL; on SQLite a second one is refused."""
    # Imported here: only this command and serve send e-mails.
    from notifications.backends import describe
    from notifications.dispatcher import Dispatcher

    container = _container()
    runner = Dispatcher(container.workflow.sessions, container.settings, interval_s=interval)
    where = f"{container.engine.url.render_as_string()} to {describe(container.settings)}"
    if once:
        _out(f"sent what was due on {where}: {runner.run_once()}")
        return
    result = runner.start()
    _out(f"dispatcher {runner.worker_id} on {where}, every {runner.interval_s:g} s; Ctrl-C to stop")
    _out(f"caught up: {result}")
    runner.on_wake = _print_dispatch
    _run_until_stopped(runner)


def _print_dispatch(result: Any) -> None:
    _out(f"{system_clock():%Y-%m-%d %H:%M:%S} UTC  e-mails: {result}")


@app.command()
def deadlines(
    org: Annotated[str | None, typer.Option(help="Only this organisation (slug).")] = None,
    posting: Annotated[
        int | None, typer.Option(help="Only this posting and its applications (id).")
    ] = None,
    status: Annotated[
        DeadlineStatus | None, typer.Option(help="Only this status (default: pending and failed).")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 100,
) -> None:
    """Upcoming and failed deadlines, soonest first: what the scheduler will do, and what it could not."""
    statuses = (status,) if status else reports.OUTSTANDING
    with _container().workflow.sessions() as session:
        slugs = dict(session.execute(select(Organisation.id, Organisation.slug)).all())
        organisation_id = None
        if org is not None:
            organisation_id = next((i for i, slug in slugs.items() if slug == org), None)
            if organisation_id is None:
                raise click.BadParameter(f"no organisation with slug {org!r}", param_hint="--org")
        if posting is not None and session.get(Posting, posting) is None:
            raise WorkflowError(f"posting {posting} not found")
        rows = reports.deadlines(
            session,
            organisation_id,
            statuses=statuses,
            posting_ids=None if posting is None else [posting],
            limit=limit,
        )
    if not rows:
        shown = status.value if status else "pending or failed"
        _out(f"no {shown} deadlines")
        return
    _out(f"{'due (UTC)':<17}  {'status':<9} {'org':<12} {'entity':<18} {'kind':<18} action")
    for deadline in rows:
        _out(_deadline_line(deadline, slugs[deadline.organisation_id]))
    if len(rows) == limit:
        _out(f"(first {limit}; use --limit for more)")


def _deadline_work(event: str | None, action: str | None) -> str:
    """What a deadline does: fire an event, run a named action, or remind."""
    return f"fires {event}" if event else f"runs {action}" if action else "reminder"


def _deadline_line(deadline: reports.ListedDeadline, slug: str) -> str:
    action = _deadline_work(deadline.event, deadline.action)
    entity = f"{deadline.entity_type.value} {deadline.entity_id}"
    line = (
        f"{deadline.due_at:%Y-%m-%d %H:%M}  {deadline.status.value:<9} {slug[:12]:<12} "
        f"{entity:<18} {deadline.kind[:18]:<18} {action}"
    )
    if deadline.attempts:
        line += f"  ({deadline.attempts} failed attempts)"
    if deadline.last_error and deadline.status is not DeadlineStatus.done:
        line += f"\n{'':<19}last error: {deadline.last_error}"
    return line


# --- users --------------------------------------------------------------------------------------

# The login form takes at most 1,024 characters: a longer password could never be used.
PASSWORD_LENGTH = (8, 1024)


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Argument(help="Their e-mail address, which is their login.")],
    org: Annotated[str, typer.Option(help="Their organisation (slug).")],
    role: Annotated[Role, typer.Option(help="What they may do.")],
    name: Annotated[str, typer.Option(help="Their name, as colleagues see it.")],
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin", help="Read the password from standard input, not a prompt."
        ),
    ] = False,
) -> None:
    """Create a staff account. The password is asked for twice, hidden (or read from stdin)."""
    address = normalise_email(email)
    if "@" not in address.strip("@") or len(address) > 320:
        raise click.BadParameter(f"not an e-mail address: {email!r}", param_hint="EMAIL")
    if not name.strip():
        raise click.BadParameter("must not be empty", param_hint="--name")
    workflow = _container().workflow
    with workflow.sessions() as session:  # refuse before asking for a password
        organisation_id = _organisation_id(session, org)
        if _find_user(session, organisation_id, address) is not None:
            raise WorkflowError(f"{address} already has an account in {org}")
    password_hash = hash_password(_read_password(password_stdin))
    user = User(
        organisation_id=organisation_id,
        email=address,
        name=name.strip(),
        role=role,
        password_hash=password_hash,
        created_at=workflow.clock(),
    )
    try:
        with workflow.sessions.begin() as session:
            session.add(user)
    except IntegrityError:  # created meanwhile by someone else
        raise WorkflowError(f"{address} already has an account in {org}") from None
    _out(f"created user {user.id}: {address} ({role.value}) in {org}")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    shortest, longest = PASSWORD_LENGTH
    if not shortest <= len(password) <= longest:
        raise click.BadParameter(
            f"must be {shortest} to {longest} characters long", param_hint="password"
        )
    return password


@users_app.command("revoke-tokens")
def users_revoke_tokens(
    email: Annotated[str, typer.Argument(help="The account's e-mail address.")],
    org: Annotated[str, typer.Option(help="Its organisation (slug).")],
) -> None:
    """Revoke every token of an account: it must log in again."""
    address = normalise_email(email)
    workflow = _container().workflow
    with workflow.sessions.begin() as session:
        user = _find_user(session, _organisation_id(session, org), address)
        if user is None:
            raise WorkflowError(f"no user {address} in {org}")
        revoked = revoke_user_tokens(session, user.id, workflow.clock())
    _out(f"revoked {revoked} token(s) of {address} in {org}")


def _organisation_id(session: Session, slug: str) -> int:
    found = session.scalar(select(Organisation.id).where(Organisation.slug == slug))
    if found is None:
        raise click.BadParameter(f"no organisation with slug {slug!r}", param_hint="--org")
    return found


def _find_user(session: Session, organisation_id: int, address: str) -> User | None:
    return session.scalars(
        select(User).where(
            User.organisation_id == organisation_id, func.lower(User.email) == address
        )
    ).first()


# --- serve --------------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    demo: Annotated[
        bool, typer.Option(help="Load the demo into an empty database (or one holding it).")
    ] = True,
) -> None:
    """Run the HTTP API (docs at /docs) and, unless VIVIER_SERVE_SCHEDULER=false or
    VIVIER_SERVE_DISPATCHER=false, the scheduler and the e-mail dispatcher in the same process:
    the schema is upgraded first, and an empty database gets the demo."""
    # Imported here: the web stack is only needed by this command.
    import uvicorn

    from api.app import create_app

    container = _container()
    upgrade(container.engine)
    if demo and _demo_wanted(container):
        summary = load_demo(container.workflow, password_hash=hash_password(DEMO_PASSWORD))
        _out(str(summary))
        _print_demo_logins()
    elif demo:
        _out("the database holds organisations of its own: the demo was not loaded")
    settings = container.settings
    background = settings.serve_scheduler or settings.serve_dispatcher
    _check_single_workers(container)
    application = create_app(container, background=background)
    address = f"http://{host}:{port}"
    _out(f"Vivier on {address}: open it and log in (staff pages at /app, careers at /careers)")
    _out(f"API docs at {address}/docs; Ctrl-C to stop")
    # uvicorn shuts down gracefully on SIGTERM, then raises it again: let that end here, cleanly.
    signal.signal(signal.SIGTERM, _interrupt)
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.run(application, host=host, port=port, log_level="info")
    _out("stopped")


def _demo_wanted(container: Container) -> bool:
    """An empty database gets the demo, and so does one already holding it (loading again is
    idempotent and gives demo users without a password the demo one); a database with
    organisations of its own is left alone."""
    slugs = [spec.slug for spec in DEMO_ORGANISATIONS]
    with container.workflow.sessions() as session:
        anyone = session.scalar(select(Organisation.id).limit(1))
        demo = session.scalar(select(Organisation.id).where(Organisation.slug.in_(slugs)).limit(1))
    return anyone is None or demo is not None


def _print_demo_logins() -> None:
    _out()
    _out(f"demo logins, all with the password {DEMO_PASSWORD!r} (/app/login, or POST /auth/token):")
    for spec in DEMO_ORGANISATIONS:
        for role, name, email in spec.users:
            _out(f"  {spec.slug:<6} {role:<12} {name:<20} {email}")
    _out()


def _check_single_workers(container: Container) -> None:
    """On SQLite, refuse to start when a scheduler or a dispatcher that serve would run already
    runs on the database: one line here rather than a traceback from the app's startup."""
    from notifications.dispatcher import lock_single_dispatcher

    settings = container.settings
    checks = [(settings.serve_scheduler, lock_single_scheduler)]
    checks.append((settings.serve_dispatcher, lock_single_dispatcher))
    for wanted, lock in checks:
        handle = lock(container.engine) if wanted else None
        if handle is not None:
            handle.close()  # the app's worker takes the lock for good


# --- emails -------------------------------------------------------------------------------------


@emails_app.command("preview")
def emails_preview(
    template: Annotated[str, typer.Argument(help="The message, e.g. application_received.")],
    lang: Annotated[str, typer.Option(help="fr or en.")] = "fr",
    org: Annotated[
        str | None, typer.Option(help="An organisation's slug: its own version, if it has one.")
    ] = None,
    part: Annotated[str, typer.Option(help="subject, text, html or all.")] = "all",
) -> None:
    """Render a message with sample data, as its recipient would get it."""
    if template not in TEMPLATES:
        raise click.BadParameter(
            f"no message {template!r}; messages: {', '.join(sorted(TEMPLATES))}",
            param_hint="TEMPLATE",
        )
    if lang not in LANGUAGES:
        raise click.BadParameter(f"{lang!r}; one of {', '.join(LANGUAGES)}", param_hint="--lang")
    if part not in ("subject", "text", "html", "all"):
        raise click.BadParameter(f"{part!r}; subject, text, html or all", param_hint="--part")
    renderer = Renderer(overrides_dir=Settings().notifications_dir / "orgs")
    rendered = renderer.render(template, lang, sample_context(template, lang), org)
    if part != "all":
        _out(getattr(rendered, part).rstrip("\n"))
        return
    _out(f"Subject: {rendered.subject}\n\n{rendered.text}\n{'-' * 72}\n{rendered.html}")


@emails_app.command("rules")
def emails_rules(
    org: Annotated[str | None, typer.Option(help="An organisation's slug: its rules.")] = None,
) -> None:
    """Check the rule files and templates, and list who is sent what, when."""
    settings = Settings()
    notifier = Notifier.from_settings(settings)
    for rule in notifier.rules.all(org):
        narrowed = "".join(
            f" {key}={'|'.join(sorted(values))}"
            for key, values in (("event", rule.events), ("entered", rule.entered))
            if values
        )
        ics = " +ics" if rule.attach_ics else ""
        _out(
            f"{rule.pipeline:<10} {rule.name:<22} on {rule.on}{narrowed}: "
            f"{rule.template}{ics} -> {', '.join(rule.to)}"
        )


# --- entry point --------------------------------------------------------------------------------


def run(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code. Known errors become one line on stderr."""
    try:
        app(args=argv, prog_name="vivier", standalone_mode=False)
    except (click.exceptions.Exit, typer.Exit) as exc:
        return exc.exit_code
    # Typer parses arguments with its own copy of click: its usage errors are TyperExceptions.
    except (click.ClickException, typer.TyperException) as exc:
        if hasattr(exc, "show"):
            exc.show()
        else:
            typer.echo(f"error: {exc.format_message()}", err=True)
        return exc.exit_code
    except (click.exceptions.Abort, typer.Abort):
        return 130
    except WorkflowError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 1
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        typer.echo(f"error: setting VIVIER_{field.upper()}: {first['msg']}", err=True)
        return 2
    except OperationalError as exc:
        typer.echo(f"error: cannot use the database: {exc.orig}", err=True)
        return 1
    return 0


def main() -> None:
    sys.exit(run())
