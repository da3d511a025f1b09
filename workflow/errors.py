"""Domain exceptions. The faces (API, CLI) map them to answers in one place each."""


class WorkflowError(Exception):
    """Base of every error a caller of the workflow can expect."""


class NotFound(WorkflowError):
    def __init__(self, entity: str, entity_id: object) -> None:
        self.entity = entity
        self.entity_id = entity_id
        super().__init__(f"{entity} {entity_id} not found")


class UnknownEvent(WorkflowError):
    def __init__(self, pipeline: str, event: str, known: list[str]) -> None:
        self.pipeline = pipeline
        self.event = event
        self.known = known
        super().__init__(
            f"unknown event {event!r} for pipeline {pipeline!r}; known events: {', '.join(known)}"
        )


class TransitionNotAllowed(WorkflowError):
    def __init__(self, state: str, event: str, allowed: list[str]) -> None:
        self.state = state
        self.event = event
        self.allowed = allowed
        allowed_text = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"event {event!r} is not allowed from state {state!r}; allowed now: {allowed_text}"
        )


class GuardFailed(WorkflowError):
    def __init__(self, guard: str, message: str) -> None:
        self.guard = guard
        self.message = message
        super().__init__(f"guard {guard!r} refused: {message}")


class StaleVersion(WorkflowError):
    def __init__(self, entity: str, entity_id: object, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{entity} {entity_id} is at version {actual}, not {expected}: "
            "someone changed it since you read it; reload and try again"
        )


class InvalidInput(WorkflowError):
    """A value given to the workflow (payload, field) is malformed; names the field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class PipelineError(WorkflowError):
    """A pipeline definition file is wrong; the message names the file, line and transition."""

    def __init__(self, path: object, message: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else f"{path}"
        super().__init__(f"{where}: {message}")


class AlreadyExists(WorkflowError):
    def __init__(self, entity: str, message: str) -> None:
        self.entity = entity
        super().__init__(message)
