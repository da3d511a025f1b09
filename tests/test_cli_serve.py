"""`vivier users` and `vivier serve`, on a database of each test's own (SQLite and PostgreSQL):
an account made on the command line logs in over HTTP, and `serve` is started as a real process,
used as a demo user would, and stopped with SIGTERM."""

import getpass
import io
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.cli import DEMO_PASSWORD
from api.wiring import build_container
from config.settings import Settings
from tests.serve_support import free_port, wait_until_up

NEW = "Amira.Haddad@aibf.example.org"
CREATE = ("users", "create", NEW, "--org", "aibf", "--role", "hr", "--name", "Amira Haddad")


@pytest.fixture
def http(vivier):
    """A TestClient on the app over the `vivier` fixture's database (after `vivier demo`)."""
    assert vivier("demo")[0] == 0
    container = build_container(Settings())
    yield TestClient(create_app(container), raise_server_exceptions=False)
    container.engine.dispose()


def log_in(http: TestClient, email: str, password: str) -> Any:
    return http.post("/auth/token", data={"username": email, "password": password})


def me(http: TestClient, token: str) -> Any:
    return http.get("/auth/me", headers={"Authorization": f"Bearer {token}"})


def test_users_create_then_log_in(vivier, http, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    code, out, err = vivier(*CREATE, "--password-stdin")
    assert (code, err) == (0, "")
    assert "amira.haddad@aibf.example.org (hr) in aibf" in out
    assert log_in(http, NEW, "wrong password").status_code == 401
    token = log_in(http, NEW.upper(), "correct horse battery")
    assert token.status_code == 200, token.text
    who = me(http, token.json()["access_token"]).json()
    assert (who["email"], who["role"], who["name"]) == (NEW.lower(), "hr", "Amira Haddad")


def test_users_create_asks_twice_without_echo(vivier, http, monkeypatch) -> None:
    answers = iter(["s3cret-pass", "s3cret-typo", "s3cret-pass", "s3cret-pass"])
    asked = []

    def hidden(_prompt: str = "") -> str:  # getpass is what reads without echo
        asked.append(1)
        return next(answers)

    monkeypatch.setattr(getpass, "getpass", hidden)
    code, out, err = vivier(*CREATE)
    assert code == 0
    assert "do not match" in out + err  # so it asked for both again
    assert len(asked) == 4
    assert log_in(http, NEW, "s3cret-pass").status_code == 200


def test_demo_users_log_in_with_the_demo_password(http) -> None:
    token = log_in(http, "nadia.bensaid@aibf.example.org", DEMO_PASSWORD)
    assert token.status_code == 200, token.text
    assert me(http, token.json()["access_token"]).json()["role"] == "hr"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--org": "nobody"}, "no organisation with slug 'nobody'"),
        ({NEW: "nadia.bensaid@aibf.example.org"}, "nadia.bensaid@aibf.example.org already has an account in aibf"),
        ({"hr": "boss"}, "'boss' is not one of 'admin', 'hr', 'recruiter', 'interviewer'"),
        ({NEW: "not-an-address"}, "not an e-mail address"),
        ({"Amira Haddad": " "}, "--name"),
    ],
)  # fmt: skip
def test_users_create_refuses_in_one_line(vivier, http, monkeypatch, change, message) -> None:
    args = list(CREATE)
    for old, new in change.items():
        args[args.index(old) + (1 if old.startswith("--") else 0)] = new
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    code, out, err = vivier(*args, "--password-stdin")
    assert code != 0
    assert message in err
    assert "Traceback" not in out + err


def test_a_short_password_is_refused_and_nothing_created(vivier, http, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    code, _, err = vivier(*CREATE, "--password-stdin")
    assert code != 0 and "must be 8 to 1024 characters long" in err
    monkeypatch.setattr(sys, "stdin", io.StringIO("long enough now\n"))
    assert vivier(*CREATE, "--password-stdin")[0] == 0  # the first attempt left no account


def test_revoke_tokens_logs_the_user_out(vivier, http) -> None:
    token = log_in(http, "julien.marchal@aibf.example.org", DEMO_PASSWORD).json()["access_token"]
    assert me(http, token).status_code == 200
    code, out, _ = vivier(
        "users", "revoke-tokens", "Julien.Marchal@aibf.example.org", "--org", "aibf"
    )
    assert code == 0 and "revoked 1 token(s)" in out
    assert me(http, token).status_code == 401
    code, _, err = vivier("users", "revoke-tokens", "nobody@aibf.example.org", "--org", "aibf")
    assert code == 1 and err.strip() == "error: no user nobody@aibf.example.org in aibf"


# --- serve --------------------------------------------------------------------------------------


def test_serve_runs_the_api_on_the_demo_and_stops_on_sigterm(
    empty_database_url: str, tmp_path: Path
) -> None:
    vivier = Path(sys.executable).with_name("vivier")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = os.environ | {"VIVIER_DATABASE_URL": empty_database_url, "VIVIER_VAR_DIR": str(tmp_path)}
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(vivier), "serve", "--port", str(port)],
            cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until_up(process, base, log)
        token = httpx2.post(
            f"{base}/auth/token",
            data={"username": "julien.marchal@aibf.example.org", "password": DEMO_PASSWORD},
        )
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        postings = httpx2.get(f"{base}/postings", headers=headers)
        assert postings.status_code == 200
        assert {p["ref"] for p in postings.json()} == {
            "aibf-previous", "aibf-usa", "aibf-grandlacs", "aibf-mexique",
        }  # fmt: skip
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log.read_text()
    assert "demo logins" in output and "nadia.bensaid@aibf.example.org" in output
    assert "Traceback" not in output
    assert output.rstrip().endswith("stopped")
