"""The counts table: applications per (posting, state), kept equal to the GROUP BY over
applications by every move, inside the move's own transaction."""

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from workflow.models import PipelineCount


def move_count(session: Session, posting_id: int, source: str | None, dest: str) -> None:
    """Keep pipeline_count equal to the GROUP BY over applications. The rows of one move are
    updated in order of state name, so concurrent moves cannot deadlock on them."""
    deltas = {dest: 1} if source is None else {source: -1, dest: 1}
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    for state in sorted(deltas):
        statement = dialect.insert(PipelineCount).values(
            posting_id=posting_id, state=state, count=deltas[state]
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["posting_id", "state"],
                set_={"count": PipelineCount.count + deltas[state]},
            )
        )
