"""Demo data: the seeds' organisations and calls (seed 001: Amnesty International Belgique
francophone's volunteer coordinators; seed 004: the OMCT's programme director), with fictional
users and candidates whose applications fill every state of the volunteer and staff pipelines.

`load_demo(workflow, today)` is idempotent and runs in one transaction. It looks organisations up
by slug, users by e-mail, postings by `ref` and candidates by normalised e-mail, and creates only
what is missing. A posting that already exists is left exactly as it is, applications included
(they are counted as present, never replayed). Everything goes through the transition service
(`create_posting_in`, `apply_in`, `fire_in` with `now=`), in the order it happened, so the history,
the counts and the deadlines are what real use would have produced: a posting's `fill`, for
instance, answers the candidates still open at that moment.

Date-shift rule. The data (workflow/demo_data.py) keeps the seeds' own calendar: seed 004 closes on
26 May 2024. The loader moves that whole calendar by the same number of days, `today - 5 May 2024`,
so that the OMCT's closing date falls 21 days after `today` (a date-only closing date: 23:59:59
that day in Europe/Brussels) and every other demo date and time keeps its distance to it (times
keep their Brussels wall-clock hour). Postings were therefore published six to eight weeks before
today, every transition happened before today, and only interviews still to come lie after it.
Dates the service derives move with their source: a commitment's end is its (moved) start plus 24
months, clamped to the month's end like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session

from workflow.context import Actor
from workflow.demo_data import (
    APPLICATIONS,
    CONSENT_VERSION,
    MET_NOTE,
    ORGANISATIONS,
    POSTINGS,
    SEED_TODAY,
    ApplicationSpec,
    Meeting,
    OrganisationSpec,
    PostingSpec,
    Step,
)
from workflow.models import (
    Application,
    Candidate,
    CandidateCreate,
    EntityType,
    Feedback,
    Interview,
    InterviewInterviewer,
    Organisation,
    Posting,
    PostingCreate,
    Recommendation,
    Role,
    User,
)
from workflow.service import Workflow, normalise_email

DEMO_TIMEZONE = "Europe/Brussels"
KINDS = ("organisations", "users", "postings", "candidates", "applications")
INTERVIEW_LENGTH = timedelta(hours=1)


@dataclass
class DemoSummary:
    """What one run of `load_demo` did: rows created, and demo rows that were already there."""

    today: date
    shift_days: int  # how far the seeds' calendar was moved
    created: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    present: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    @property
    def created_anything(self) -> bool:
        return any(self.created.values())

    def __str__(self) -> str:
        def listing(counts: dict[str, int]) -> str:
            return ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "nothing"

        return (
            f"demo data for {self.today.isoformat()} (seed dates moved by {self.shift_days:+d} "
            f"days): created {listing(self.created)}; already present: {listing(self.present)}"
        )


def load_demo(
    workflow: Workflow, today: date | None = None, *, password_hash: str | None = None
) -> DemoSummary:
    """Load the demo organisations, users, postings, candidates and applications (idempotent).

    `password_hash` (made by the caller: hashing is the API's business) is given to every demo
    user who has no password yet, so the demo logins work; a password already set is kept."""
    today = today or workflow.clock().astimezone(ZoneInfo(DEMO_TIMEZONE)).date()
    summary = DemoSummary(today, (today - SEED_TODAY).days)
    with workflow.sessions.begin() as session:
        run = _Run(workflow, session, summary, password_hash)
        for spec in ORGANISATIONS:
            run.organisation(spec)
        for spec in POSTINGS:
            run.posting(spec)
        for index, spec in enumerate(APPLICATIONS):
            run.application(index, spec)
        run.play()
        run.finish()
    return summary


Action = tuple[datetime, int, Callable[[datetime], Any]]


class _Run:
    """One load: what exists, and the timeline of what is still to be done, in time order."""

    def __init__(
        self,
        workflow: Workflow,
        session: Session,
        summary: DemoSummary,
        password_hash: str | None = None,
    ) -> None:
        self.workflow, self.session, self.summary = workflow, session, summary
        self.password_hash = password_hash
        self.shift = timedelta(days=summary.shift_days)
        self.orgs: dict[str, Organisation] = {}
        self.users: dict[tuple[str, str], list[User]] = {}  # (org slug, role) -> users
        self.places: dict[str, str] = {}
        self.postings: dict[str, Posting] = {}  # ref -> posting
        self.org_of: dict[str, str] = {spec.ref: spec.org for spec in POSTINGS}
        self.replayed: set[str] = set()  # refs of the postings created by this run
        self.applications: dict[int, Application] = {}  # index in APPLICATIONS -> application
        self.candidates_seen: set[tuple[int, str]] = set()
        self.timeline: list[Action] = []

    # --- Time: the seeds' calendar, moved -----------------------------------------------------

    def at(self, text: str) -> datetime:
        local = datetime.fromisoformat(text) + self.shift
        return local.replace(tzinfo=ZoneInfo(DEMO_TIMEZONE)).astimezone(UTC)

    def later(self, when: str | datetime, action: Callable[[datetime], Any]) -> None:
        when = self.at(when) if isinstance(when, str) else when
        self.timeline.append((when, len(self.timeline), action))

    def play(self) -> None:
        for when, _, action in sorted(self.timeline, key=lambda item: item[:2]):
            action(when)

    # --- Lookups ------------------------------------------------------------------------------

    def find(self, model: type, **where: Any) -> Any:
        return self.session.scalars(select(model).filter_by(**where)).first()

    def count(self, kind: str, created: bool) -> None:
        (self.summary.created if created else self.summary.present)[kind] += 1

    def actor(self, org: str, by: str, candidate_id: int | None = None) -> Actor:
        if by == "system":
            return Actor.system()
        if by == "candidate":
            assert candidate_id is not None
            return Actor.candidate(candidate_id)
        return Actor.user(self.users[(org, by)][0].id)

    # --- Organisations and users --------------------------------------------------------------

    def organisation(self, spec: OrganisationSpec) -> None:
        since = self.at(spec.since)
        org = self.find(Organisation, slug=spec.slug)
        self.count("organisations", org is None)
        if org is None:
            org = Organisation(
                slug=spec.slug,
                name=spec.name,
                default_language=spec.language,
                timezone=spec.timezone,
                created_at=since,
            )
            self.session.add(org)
            self.session.flush()
        self.orgs[spec.slug], self.places[spec.slug] = org, spec.place
        for role, name, email in spec.users:
            user = self.find(User, organisation_id=org.id, email=email)
            self.count("users", user is None)
            if user is None:
                user = User(
                    organisation_id=org.id,
                    email=email,
                    name=name,
                    role=Role(role),
                    created_at=since,
                )
                self.session.add(user)
            if user.password_hash is None:
                user.password_hash = self.password_hash
            self.users.setdefault((spec.slug, role), []).append(user)
        self.session.flush()

    # --- Postings -----------------------------------------------------------------------------

    def posting(self, spec: PostingSpec) -> None:
        posting = self.find(Posting, organisation_id=self.orgs[spec.org].id, ref=spec.ref)
        self.count("postings", posting is None)
        if posting is not None:
            self.postings[spec.ref] = posting
            return
        self.replayed.add(spec.ref)
        self.later(spec.created, partial(self._create_posting, spec))
        for step in spec.steps:
            self.later(step.at, partial(self._fire_posting, spec, step))

    def _create_posting(self, spec: PostingSpec, now: datetime) -> None:
        closes_on = spec.closes_on + self.shift if spec.closes_on else None
        data = PostingCreate(ref=spec.ref, closes_on=closes_on, **spec.fields)
        owner = self.users[(spec.org, "recruiter")][0]
        self.postings[spec.ref] = self.workflow.create_posting_in(
            self.session,
            owner.organisation_id,
            data,
            Actor.user(owner.id),
            owner_id=owner.id,
            now=now,
        )

    def _fire_posting(self, spec: PostingSpec, step: Step, now: datetime) -> None:
        posting = self.postings[spec.ref]
        self._fire(EntityType.posting, posting.id, spec.org, step, now)

    def _fire(
        self,
        kind: EntityType,
        entity_id: int,
        org: str,
        step: Step,
        now: datetime,
        who: int | None = None,
    ) -> None:
        self.workflow.fire_in(
            self.session,
            kind,
            entity_id,
            step.event,
            self.actor(org, step.by, who),
            reason=step.reason,
            payload={k: self._moved(v) for k, v in step.payload.items()},
            organisation_id=self.orgs[org].id,
            now=now,
        )

    def _moved(self, value: Any) -> Any:
        """Payload dates are on the seeds' calendar too."""
        return (value + self.shift).isoformat() if isinstance(value, date) else value

    # --- Applications -------------------------------------------------------------------------

    def application(self, index: int, spec: ApplicationSpec) -> None:
        org = self.orgs[self.org_of[spec.posting]]
        key = (org.id, normalise_email(spec.email))
        candidate = self.find(Candidate, organisation_id=org.id, email_normalised=key[1])
        if spec.posting not in self.replayed:
            self._count_present(spec, key, candidate)
            return
        self._count_candidate(key, candidate)
        self.count("applications", True)
        self.later(spec.applied, partial(self._apply, index, spec))
        for step in spec.steps:
            self.later(step.at, partial(self._fire_application, index, step))
        for meeting in spec.meetings:
            self.later(self._booked(spec, meeting), partial(self._interview, index, meeting))

    def _count_candidate(self, key: tuple[int, str], candidate: Candidate | None) -> None:
        if key not in self.candidates_seen:
            self.candidates_seen.add(key)
            self.count("candidates", candidate is None)

    def _count_present(
        self, spec: ApplicationSpec, key: tuple[int, str], candidate: Candidate | None
    ) -> None:
        """A posting that was already there: count its demo rows that are, add nothing."""
        if candidate is None:
            return
        self._count_candidate(key, candidate)
        posting_id = self.postings[spec.posting].id
        if self.find(Application, posting_id=posting_id, candidate_id=candidate.id) is not None:
            self.count("applications", False)

    def _apply(self, index: int, spec: ApplicationSpec, now: datetime) -> None:
        consent = {"kind": "privacy", "text_version": CONSENT_VERSION, "given_at": now.isoformat()}
        person = CandidateCreate(
            first_name=spec.first_name,
            last_name=spec.last_name,
            email=spec.email,
            language=spec.language,
            consents=[consent],
        )
        posting = self.postings[spec.posting]
        self.applications[index] = self.workflow.apply_in(
            self.session,
            posting.id,
            person,
            source=spec.source,
            organisation_id=posting.organisation_id,
            now=now,
        )

    def _fire_application(self, index: int, step: Step, now: datetime) -> None:
        application = self.applications[index]
        org = self.org_of[APPLICATIONS[index].posting]
        self._fire(EntityType.application, application.id, org, step, now, application.candidate_id)

    def _booked(self, spec: ApplicationSpec, meeting: Meeting) -> datetime:
        """An interview is booked an hour after the last step before it (the invitation)."""
        starts = self.at(meeting.at)
        before = [self.at(s.at) for s in spec.steps if self.at(s.at) < starts]
        return max(before, default=self.at(spec.applied)) + timedelta(hours=1)

    def _interview(self, index: int, meeting: Meeting, now: datetime) -> None:
        application = self.applications[index]
        org = self.org_of[APPLICATIONS[index].posting]
        starts = self.at(meeting.at)
        interview = Interview(
            organisation_id=application.organisation_id,
            application_id=application.id,
            starts_at=starts,
            ends_at=starts + INTERVIEW_LENGTH,
            timezone=DEMO_TIMEZONE,
            location="" if meeting.online else self.places[org],
            video_link=f"https://meet.example.org/{org}-{application.id}" if meeting.online else "",
            created_at=now,
        )
        self.session.add(interview)
        self.session.flush()
        interviewers = self.users[(org, "interviewer")]
        for user in interviewers:
            self.session.add(InterviewInterviewer(interview_id=interview.id, user_id=user.id))
        for user, recommendation in zip(interviewers, meeting.recommendations, strict=False):
            self.session.add(
                Feedback(
                    organisation_id=application.organisation_id,
                    interview_id=interview.id,
                    interviewer_id=user.id,
                    recommendation=Recommendation(recommendation),
                    notes=meeting.note if user is interviewers[0] else "",
                    created_at=starts + INTERVIEW_LENGTH + timedelta(hours=1),
                )
            )
        self.session.flush()

    # --- After the timeline -------------------------------------------------------------------

    def finish(self) -> None:
        """Check each application reached its target; record the screening assessments."""
        for index, application in self.applications.items():
            spec = APPLICATIONS[index]
            if application.state != spec.target:
                raise RuntimeError(
                    f"demo data: {spec.email} on {spec.posting} ended in {application.state!r}, "
                    f"not {spec.target!r}"
                )
            if any(step.event == "screen" for step in spec.steps):
                criteria = self.postings[spec.posting].criteria
                application.assessment = assessment(
                    criteria, spec.notes, complete=application.state != "screening"
                )
        self.session.flush()


def assessment(
    criteria: list[str], notes: dict[str, tuple[bool, str]], *, complete: bool
) -> dict[str, dict[str, Any]]:
    """{criterion: {"met", "note"}}: the noted criteria, and once screening is over every other
    one as met (seed 002: documented decisions). A note's key is a word of its criterion."""
    noted: dict[str, dict[str, Any]] = {}
    for key, (met, note) in notes.items():
        matches = [c for c in criteria if key.lower() in c.lower()]
        if len(matches) != 1:
            raise ValueError(f"demo data: note key {key!r} matches {len(matches)} criteria")
        noted[matches[0]] = {"met": met, "note": note}
    if not complete:
        return noted
    return {c: noted.get(c, {"met": True, "note": MET_NOTE}) for c in criteria}
