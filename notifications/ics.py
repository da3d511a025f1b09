"""Interview invitations as iCalendar files (RFC 5545/5546), attached to the interview's e-mails.

One interview is one calendar event, whoever receives it: its UID is stable
(`vivier-interview-ID@DOMAIN`), and its SEQUENCE is the interview's own `sequence`, which a
reschedule or a cancellation raises, so a calendar replaces the earlier version instead of adding
a second event. A cancellation is METHOD:CANCEL with STATUS:CANCELLED. Times are written in the
interview's time zone (DTSTART;TZID=...) with the matching VTIMEZONE, so the event shows at the
right hour whatever the reader's own zone, across a change of daylight-saving time too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parseaddr
from functools import cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress

from notifications.render import one_line

PRODID = "-//Vivier//Interview invitations//EN"
DEFAULT_LENGTH = timedelta(hours=1)  # as workflow/interviews.py: an interview without an end


@dataclass(frozen=True)
class Invitation:
    """What the calendar file says of one interview, for one attendee."""

    interview_id: int
    sequence: int
    starts_at: datetime  # aware
    ends_at: datetime | None
    timezone: str
    summary: str
    description: str
    location: str
    video_link: str
    organiser_email: str
    organiser_name: str
    attendee_email: str
    attendee_name: str
    cancelled: bool = False


def uid(interview_id: int, mail_from: str) -> str:
    """The interview's calendar UID: the same in every version of its invitation."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "vivier.invalid"
    return f"vivier-interview-{interview_id}@{domain}"


def content_type(cancelled: bool) -> str:
    return f"text/calendar; method={'CANCEL' if cancelled else 'REQUEST'}"


def calendar(invitation: Invitation, now: datetime) -> str:
    """The .ics text: METHOD:REQUEST (or CANCEL) with one VEVENT and its VTIMEZONE."""
    zone = ZoneInfo(invitation.timezone)
    starts = invitation.starts_at.astimezone(zone)
    ends = (invitation.ends_at or invitation.starts_at + DEFAULT_LENGTH).astimezone(zone)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if invitation.cancelled else "REQUEST")
    event = Event()
    event.add("uid", uid(invitation.interview_id, invitation.organiser_email))
    event.add("sequence", invitation.sequence)
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", starts)
    event.add("dtend", ends)
    event.add("summary", one_line(invitation.summary))
    if invitation.description:
        event.add("description", invitation.description)
    event.add("status", "CANCELLED" if invitation.cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    if invitation.location or invitation.video_link:
        event.add("location", one_line(invitation.location or invitation.video_link))
    if invitation.video_link:
        event.add("url", invitation.video_link)
    event.add("organizer", _address(invitation.organiser_email, invitation.organiser_name))
    attendee = _address(invitation.attendee_email, invitation.attendee_name)
    attendee.params["ROLE"] = "REQ-PARTICIPANT"
    attendee.params["PARTSTAT"] = "NEEDS-ACTION"
    attendee.params["RSVP"] = "FALSE"
    event.add("attendee", attendee)
    cal.add_component(_vtimezone(invitation.timezone, starts.year))
    cal.add_component(event)
    return cal.to_ical().decode("utf-8")


@cache
def _vtimezone(timezone: str, year: int) -> Timezone:
    """The zone's rules from the year before the interview's to the year after: built once per
    zone and year (building one costs more than the rest of the file)."""
    return Timezone.from_tzinfo(
        ZoneInfo(timezone),
        timezone,
        first_date=date(year - 1, 1, 1),
        last_date=date(year + 2, 1, 1),
    )


def _address(email: str, name: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{parseaddr(email)[1] or email}")
    if one_line(name):
        address.params["CN"] = one_line(name)
    return address
