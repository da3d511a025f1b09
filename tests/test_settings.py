"""Settings from VIVIER_* variables and .env, with clear errors."""

import pytest
from pydantic import ValidationError

from config.settings import Settings


def test_defaults_use_sqlite_under_var(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("VIVIER_DATABASE_URL", "VIVIER_VAR_DIR", "VIVIER_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.effective_database_url == "sqlite:///var/vivier.db"
    assert settings.timezone == "Europe/Brussels"


def test_environment_and_dotenv(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VIVIER_DATABASE_URL", raising=False)
    (tmp_path / ".env").write_text("VIVIER_DATABASE_URL=postgresql://db.example/vivier\n")
    assert Settings().effective_database_url == "postgresql://db.example/vivier"
    monkeypatch.setenv("VIVIER_DATABASE_URL", "sqlite:///elsewhere.db")
    assert Settings().effective_database_url == "sqlite:///elsewhere.db"  # env beats .env


def test_unknown_time_zone_is_refused(monkeypatch):
    monkeypatch.setenv("VIVIER_TIMEZONE", "Europe/Atlantis")
    with pytest.raises(ValidationError, match="unknown time zone 'Europe/Atlantis'"):
        Settings()
