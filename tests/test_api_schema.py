"""schemathesis over the whole OpenAPI document, as an admin on seeded data: no 5xx answer, every
answer conforms to the documented schema, and enough answers are 2xx that the run proves
something (it cannot pass on 401s or 404s alone)."""

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.api_support import Api
from tests.factories import add_feedback, make_application, make_posting, make_user
from workflow.models import Role

EXAMPLES = 12  # per operation: bounded so the suite stays fast
MIN_SUCCESS_SHARE = 0.25
CHECKS = [not_a_server_error, response_schema_conformance]
# Logging out would revoke the admin's token for every later case (tests/test_api_auth.py).
SKIPPED = {("POST", "/auth/logout")}


def _seed(api: Api) -> tuple[dict[str, str], dict[str, list[Any]]]:
    """An admin's headers and, per path parameter name, ids of real rows they can see."""
    org = api.org()
    admin = api.staff(org, Role.admin)
    posting = make_posting(api.workflow, org)
    applications = [make_application(api.workflow, posting) for _ in range(3)]
    feedback = add_feedback(api.workflow, applications[0], make_user(api.workflow, org))
    known = {
        "posting_id": [posting.id],
        "application_id": [a.id for a in applications],
        "interview_id": [feedback.interview_id],
        "event": ["screen", "close", "reject", "withdraw"],
    }
    return admin.headers, known


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_api_keeps_to_its_schema(api: Api) -> None:
    headers, known = _seed(api)
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    statuses: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        _exercise(operation, headers, known, statuses)
    total = sum(statuses.values())
    success = sum(n for status, n in statuses.items() if 200 <= status < 300)
    assert not [s for s in statuses if s >= 500], statuses
    assert success / total >= MIN_SUCCESS_SHARE, statuses
    print(dict(statuses))


def _exercise(operation: Any, headers: dict[str, str], known: dict, statuses: Counter) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(), data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        for name in list(case.path_parameters or {}):
            if name in known and data.draw(st.booleans()):
                case.path_parameters[name] = data.draw(st.sampled_from(known[name]))
        response = case.call(headers=headers)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    run()
