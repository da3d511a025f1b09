"""Operations: /health checks the database, /metrics counts requests, errors and transitions."""

from prometheus_client.parser import text_string_to_metric_families

from tests.api_support import Api
from tests.factories import make_application, make_posting


def _samples(api: Api) -> dict[tuple[str, frozenset], float]:
    text = api.client.get("/metrics").text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_health_checks_the_database(api: Api) -> None:
    assert api.client.get("/health").json() == {"status": "ok", "database": "ok"}


def test_metrics_count_requests_errors_and_committed_transitions(api: Api) -> None:
    org = api.org()
    hr = api.staff(org, "hr")
    application = make_application(api.workflow, make_posting(api.workflow, org))
    url = f"/applications/{application.id}/events/screen"
    assert api.client.post(url, headers=hr.headers).status_code == 200
    assert api.client.post(url, headers=hr.headers).status_code == 409  # refused: not counted
    samples = _samples(api)

    route = "/applications/{application_id}/events/{event}"
    ok = frozenset({("method", "POST"), ("route", route), ("status", "200")})
    refused = frozenset({("method", "POST"), ("route", route), ("status", "409")})
    assert samples["vivier_http_requests_total", ok] == 1
    assert samples["vivier_http_requests_total", refused] == 1
    assert (
        samples["vivier_http_errors_total", frozenset({("route", route), ("status", "409")})] == 1
    )
    moved = frozenset({("pipeline", "volunteer"), ("event", "screen")})
    assert samples["vivier_transitions_total", moved] == 1
