"""Vivier's one settings class, read from VIVIER_* environment variables and an optional .env."""

from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PIPELINES_DIR = Path(__file__).parent / "pipelines"


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

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'vivier.db'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
