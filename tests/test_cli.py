"""The `vivier` command line, on a database of each test's own (SQLite and PostgreSQL)."""

import re

import pytest


def test_demo_then_status_shows_every_seed_posting(vivier):
    code, out, err = vivier("demo", "--today", "2026-11-25")
    assert (code, err) == (0, "")
    code, out, _ = vivier("status")
    assert code == 0
    assert "Amnesty International Belgique francophone (aibf)" in out
    assert "OMCT" in out
    assert re.search(r"États-Unis", out) and "Grands-Lacs" in out and "Mexique" in out
    for state in ("received", "commitment", "completed", "ended_early", "offer_declined"):
        assert re.search(rf"\b{state} \d+", out), state
    code, _, _ = vivier("demo", "--today", "2026-11-25")
    assert code == 0
    assert vivier("status")[1] == out  # idempotent: nothing doubled


def test_fire_and_history_record_actor_and_reason(vivier):
    vivier("demo")
    code, out, _ = vivier("history", "1", "--posting")
    assert code == 0 and "(new) --create--> draft" in out
    app_id = _application_in(vivier, "received")
    code, out, err = vivier(
        "fire", "application", app_id, "screen", "--actor", "user:1", "--reason", "fits"
    )
    assert (code, err) == (0, "")
    assert "received --screen--> screening" in out
    code, out, _ = vivier("history", app_id)
    assert re.search(r"received --screen--> screening\s+by user:1\s+reason: fits", out)


def _application_in(vivier, state: str) -> str:
    """The id of some demo application in `state`, found by trying the first ids' histories."""
    for candidate_id in range(1, 60):
        code, out, _ = vivier("history", str(candidate_id))
        lines = out.strip().splitlines()
        if code == 0 and lines and lines[-1].split("--> ")[1].split()[0] == state:
            return str(candidate_id)
    raise AssertionError(f"no demo application in {state}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("fire", "application", "999999", "screen"), "error: application 999999 not found"),
        (("fire", "application", "1", "fly"), "error: unknown event 'fly' for pipeline"),
        (("fire", "application", "1", "screen", "--actor", "robot"), "kind must be system, user or candidate"),
        (("fire", "application", "1", "screen", "--payload", "[1]"), "must be a JSON object"),
        (("fire", "application", "1", "screen", "--payload", "{oops"), "not JSON"),
        (("history", "999999"), "error: application 999999 not found"),
        (("status", "--org", "nobody"), "no organisation with slug 'nobody'"),
    ],
)  # fmt: skip
def test_errors_are_one_line_and_non_zero(vivier, args, message):
    vivier("demo")
    code, out, err = vivier(*args)
    assert code != 0
    assert message in err
    assert "Traceback" not in err + out


def test_refused_transition_explains_and_changes_nothing(vivier):
    vivier("demo")
    app_id = _application_in(vivier, "received")
    before = vivier("history", app_id)[1]
    code, _, err = vivier("fire", "application", app_id, "complete")
    assert code == 1
    assert err.strip() == (
        "error: event 'complete' is not allowed from state 'received'; "
        "allowed now: reject, screen, withdraw"
    )
    assert vivier("history", app_id)[1] == before


def test_pipelines_check_and_show(vivier, tmp_path, pipelines_dir):
    code, out, _ = vivier("pipelines", "check")
    assert code == 0 and re.search(r"ok\s+volunteer\s+10 states", out)
    code, out, _ = vivier("pipelines", "show", "staff")
    assert "interview       --next_round--> interview" in out
    code, out, _ = vivier("pipelines", "show", "posting", "--mermaid")
    assert "stateDiagram-v2" in out and "closed --> published: reopen [new_closing_date]" in out
    bad = tmp_path / "bad.toml"
    bad.write_text(
        (pipelines_dir / "volunteer.toml")
        .read_text()
        .replace('dest = "training"', 'dest = "trainig"')
    )
    code, _, err = vivier("pipelines", "check", str(bad))
    assert code == 1
    assert re.match(
        rf"error: {re.escape(str(bad))}:\d+: transition 'start_training' .*unknown state 'trainig'",
        err,
    )


def test_unreachable_database_is_one_line(vivier, monkeypatch):
    monkeypatch.setenv("VIVIER_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    code, _out, err = vivier("status")
    assert code == 1
    assert err.startswith("error: cannot use the database:")
    assert "Traceback" not in err


def test_bad_setting_names_the_variable(vivier, monkeypatch):
    monkeypatch.setenv("VIVIER_TIMEZONE", "Mars/Olympus")
    code, _, err = vivier("status")
    assert code == 2
    assert "VIVIER_TIMEZONE" in err and "Mars/Olympus" in err
