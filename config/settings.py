"""Vivier's one settings class, read from VIVIER_* environment variables and an optional .env."""

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PIPELINES_DIR = Path(__file__).parent / "pipelines"
# The modules whose tables make up the schema of the one Alembic history (workflow/migrations).
# Listed here rather than imported by workflow, so dependencies still point
# api -> notifications -> workflow -> config.
NOTIFICATIONS_DIR = Path(__file__).parent / "notifications"
TABLE_MODULES = ("workflow.models", "notifications.models")


def known_zone(value: str) -> str:
    """`value` if it is an IANA time zone name, else a ValueError naming it (for validators)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIVIER_", env_file=".env", extra="ignore")

    var_dir: Path = Field(Path("var"), description="Where the embedded database and files live.")
    database_url: str = Field(
        "", description="SQLAlchemy URL; empty means a SQLite file under var_dir."
    )
    timezone: str = Field("Europe/Brussels", description="Default time zone of organisations.")
    pipelines_dir: Path = Field(PIPELINES_DIR, description="Folder of pipeline definition files.")
    sqlite_busy_timeout_s: float = Field(
        30.0, description="How long a SQLite writer waits its turn."
    )
    storage_dir: Path | None = Field(
        None, description="Where uploaded documents are stored; default var_dir/files."
    )
    upload_max_bytes: int = Field(10 * 1024 * 1024, ge=1, description="Largest accepted upload.")
    upload_max_zip_entries: int = Field(
        1000, ge=1, description="Most entries a DOCX/ODT archive may hold."
    )
    upload_max_unzipped_bytes: int = Field(
        100 * 1024 * 1024, ge=1, description="Largest total uncompressed size of a DOCX/ODT."
    )
    token_ttl_minutes: int = Field(480, ge=1, description="Lifetime of a bearer token.")
    login_window_minutes: int = Field(15, ge=1, description="Window of the login rate limit.")
    login_max_failures_account: int = Field(
        5, ge=1, description="Failed logins per account in the window before refusing."
    )
    login_max_failures_address: int = Field(
        20, ge=1, description="Failed logins per client address in the window before refusing."
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8000", description="Base of the links given to candidates."
    )
    interview_reminder_hours: int = Field(
        24, ge=1, le=24 * 30, description="Remind candidate and interviewers this long before."
    )
    feedback_reminder_hours: int = Field(
        24, ge=1, le=24 * 30, description="Remind interviewers without feedback this long after."
    )
    serve_scheduler: bool = Field(
        True, description="Run the scheduler inside `vivier serve` (the embedded default)."
    )
    # --- E-mail ---
    notifications_dir: Path = Field(
        NOTIFICATIONS_DIR, description="Who gets which e-mail: rules and organisation overrides."
    )
    email_backend: Literal["folder", "smtp"] = Field(
        "folder", description="'folder': .eml files in mail_dir (the default); 'smtp': send."
    )
    mail_dir: Path | None = Field(None, description="The .eml folder; default var_dir/mail.")
    mail_from: str = Field(
        "Vivier <no-reply@vivier.example.org>", description="The From header of every e-mail."
    )
    smtp_host: str = Field("127.0.0.1", description="SMTP server.")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="STARTTLS on a plain port, TLS from the start, or none."
    )
    smtp_user: str = Field("", description="SMTP login; empty: no authentication.")
    smtp_password: str = Field("", description="SMTP password.")
    smtp_timeout_s: float = Field(30.0, gt=0)
    dispatcher_batch: int = Field(50, ge=1, le=50, description="Messages claimed at once.")
    dispatcher_lease_s: int = Field(
        120, ge=5, description="How long a claim holds; a dead dispatcher's claims then return."
    )
    dispatcher_max_attempts: int = Field(
        8, ge=1, description="Failed sends before a message is dead (shown to HR, re-sendable)."
    )
    dispatcher_interval_s: float = Field(5.0, gt=0, description="How often the dispatcher looks.")
    serve_dispatcher: bool = Field(
        True, description="Run the dispatcher inside `vivier serve` (the embedded default)."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)

    @property
    def effective_mail_dir(self) -> Path:
        return self.mail_dir or self.var_dir / "mail"

    @property
    def effective_storage_dir(self) -> Path:
        return self.storage_dir or self.var_dir / "files"

    def status_url(self, token: str) -> str:
        """The candidate's private status page: the one link e-mails and receipts give."""
        return f"{self.public_base_url.rstrip('/')}/status/{token}"

    def staff_url(self, application_id: int) -> str:
        """The application's page for staff (the links in staff e-mails)."""
        return f"{self.public_base_url.rstrip('/')}/app/applications/{application_id}"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'vivier.db'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
