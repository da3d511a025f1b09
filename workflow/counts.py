"""The counts table: applications per (posting, state), kept equal to the GROUP BY over
applications by every move, inside the move's own transaction."""

from functools import cache
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from workflow.models import PipelineCount

COUNTS = PipelineCount.__table__


@cache
def _upsert(dialect: str) -> Any:
    """Built once per dialect: building an ON CONFLICT statement costs more than running it."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(COUNTS).values(
        posting_id=bindparam("posting_id"), state=bindparam("state"), count=bindparam("delta")
    )
    return statement.on_conflict_do_update(
        index_elements=[COUNTS.c.posting_id, COUNTS.c.state],
        set_={"count": COUNTS.c.count + statement.excluded.count},
    )


def move_count(session: Session, posting_id: int, source: str | None, dest: str) -> None:
    """The move's one or two rows, in order of state name, so that concurrent moves take the row
    locks in the same order and cannot deadlock on them."""
    deltas = {dest: 1} if source is None else {source: -1, dest: 1}
    statement = _upsert(session.get_bind().dialect.name)
    for state in sorted(deltas):
        session.execute(
            statement, {"posting_id": posting_id, "state": state, "delta": deltas[state]}
        )
