"""Deadlines the pipeline files declare: scheduled publish, commitment milestones."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.factories import STAFF, add_feedback, make_application, make_org, make_posting, make_user
from workflow.errors import PipelineError
from workflow.models import (
    Application,
    Deadline,
    DeadlineStatus,
    EntityType,
    Posting,
    Role,
    TransitionRecord,
)
from workflow.pipeline_files import load_pipeline
from workflow.scheduler import sweep

APP, POSTING = EntityType.application, EntityType.posting
BRUSSELS = ZoneInfo("Europe/Brussels")


def pending(workflow, entity_type, entity_id) -> dict[str, datetime]:
    with workflow.sessions() as session:
        rows = session.execute(
            select(Deadline.kind, Deadline.due_at).where(
                Deadline.entity_type == entity_type,
                Deadline.entity_id == entity_id,
                Deadline.status == DeadlineStatus.pending,
            )
        ).all()
    return dict(rows)


def test_posting_publishes_itself_at_its_opening_date_once(workflow):
    org = make_org(workflow)
    opens = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    posting = make_posting(workflow, org, publish=False, opens_at=opens)
    assert pending(workflow, POSTING, posting.id) == {"publish": opens}
    assert sweep(workflow, now=opens - timedelta(seconds=1), organisation_id=org.id).settled == 0
    assert sweep(workflow, now=opens, organisation_id=org.id).done == 1
    with workflow.sessions() as session:
        assert session.get(Posting, posting.id).state == "published"
        who = session.scalars(
            select(TransitionRecord.actor_kind).where(
                TransitionRecord.entity_type == POSTING,
                TransitionRecord.entity_id == posting.id,
                TransitionRecord.event == "publish",
            )
        ).all()
    assert [kind.value for kind in who] == ["system"]


def test_unpublished_after_opening_does_not_publish_again(workflow):
    org = make_org(workflow)
    posting = make_posting(
        workflow, org, publish=False, opens_at=datetime.now(UTC) - timedelta(days=1)
    )
    assert pending(workflow, POSTING, posting.id) == {}  # its time has passed: publish by hand
    workflow.fire(POSTING, posting.id, "publish", STAFF)
    workflow.fire(POSTING, posting.id, "unpublish", STAFF, reason="typo in the title")
    assert "publish" not in pending(workflow, POSTING, posting.id)


def test_commitment_milestones_and_end(workflow):
    org = make_org(workflow)
    posting = make_posting(workflow, org)
    application = make_application(workflow, posting)
    for event in ("screen", "invite"):
        workflow.fire(APP, application.id, event, STAFF)
    add_feedback(workflow, application, make_user(workflow, org, Role.interviewer))
    for event in ("accept", "start_training"):
        workflow.fire(APP, application.id, event, STAFF)
    # 31 January in winter time; its milestone three months on falls in summer time.
    start = date(date.today().year + 1, 1, 31)
    workflow.fire(
        APP,
        application.id,
        "start_commitment",
        STAFF,
        payload={"commitment_start": start.isoformat()},
    )
    with workflow.sessions() as session:
        assert session.get(Application, application.id).commitment_end == date(
            start.year + 2, 1, 31
        )
    brussels_midnight = {
        "commitment_3_months": datetime(start.year, 4, 30, tzinfo=BRUSSELS),
        "commitment_last_month": datetime(start.year + 1, 12, 31, tzinfo=BRUSSELS),
        "commitment_end": datetime(start.year + 2, 1, 31, tzinfo=BRUSSELS),
    }
    assert pending(workflow, APP, application.id) == {
        kind: at.astimezone(UTC) for kind, at in brussels_midnight.items()
    }
    assert brussels_midnight["commitment_3_months"].utcoffset() == timedelta(hours=2)


def test_if_future_must_be_a_boolean(tmp_path, pipelines_dir):
    text = (
        (pipelines_dir / "posting.toml")
        .read_text()
        .replace("if_future = true", 'if_future = "yes"')
    )
    path = tmp_path / "posting.toml"
    path.write_text(text)
    with pytest.raises(PipelineError, match="if_future must be true or false"):
        load_pipeline(path)


@pytest.mark.parametrize(
    ("closes_on", "last_open_second_utc"),
    [
        (date(2027, 3, 28), datetime(2027, 3, 28, 21, 59, 59, tzinfo=UTC)),  # clocks went forward
        (date(2027, 10, 31), datetime(2027, 10, 31, 22, 59, 59, tzinfo=UTC)),  # and back
    ],
)
def test_a_closing_date_on_a_dst_day_closes_at_midnight_in_brussels(
    workflow, closes_on, last_open_second_utc
):
    """Published in winter, closing on the day the clocks change: the sweeper closes the posting
    when 23:59:59 has passed in Brussels that day, not an hour early or late."""
    org = make_org(workflow)
    posting = make_posting(workflow, org, closes_on=closes_on, timezone="Europe/Brussels")
    local = last_open_second_utc.astimezone(ZoneInfo("Europe/Brussels"))
    assert (local.date(), local.time().isoformat()) == (closes_on, "23:59:59")

    assert (
        sweep(
            workflow, now=last_open_second_utc - timedelta(seconds=1), organisation_id=org.id
        ).done
        == 0
    )
    assert sweep(workflow, now=last_open_second_utc, organisation_id=org.id).done == 1
    with workflow.sessions.begin() as session:
        assert session.get_one(Posting, posting.id).state == "closed"
