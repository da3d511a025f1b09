"""The pages' words in French and English: one TOML file per area in `api/pages/i18n/`, each
key with both languages side by side, so a missing translation is seen where it is written.

    title = { en = "Board", fr = "Tableau" }
    idle = { en = "idle {days} days", fr = "inactive depuis {days} jours" }

`t("board.title")` looks the key up as FILE.KEY; `{name}` placeholders are filled by keyword.
Everything is checked at start-up: a key lacking a language is an error naming file and line.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

LANGUAGES = ("fr", "en")
Language = Literal["fr", "en"]
I18N_DIR = Path(__file__).parent / "i18n"


class CatalogueError(ValueError):
    """A catalogue file that cannot be used, with the file and line at fault."""


def _line_of(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.split("=", 1)[0].strip() == key:
            return number
    return 1


def load_catalogue(folder: Path = I18N_DIR) -> dict[str, dict[str, str]]:
    """Every FILE.KEY → {language: text}, checked for both languages."""
    words: dict[str, dict[str, str]] = {}
    for path in sorted(folder.glob("*.toml")):
        text = path.read_text(encoding="utf-8")
        try:
            table = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CatalogueError(f"{path}: {exc}") from exc
        for key, value in table.items():
            where = f"{path}:{_line_of(text, key)}"
            if not isinstance(value, dict) or set(value) != set(LANGUAGES):
                raise CatalogueError(f"{where}: '{key}' needs exactly the languages fr and en")
            if not all(isinstance(v, str) for v in value.values()):
                raise CatalogueError(f"{where}: '{key}' must be text in each language")
            words[f"{path.stem}.{key}"] = value
    return words


@dataclass(frozen=True)
class Translator:
    """The words of one language, as templates and routes use them: `t("area.key", n=3)`."""

    words: dict[str, dict[str, str]]
    lang: Language

    def __call__(self, key: str, **values: Any) -> str:
        try:
            text = self.words[key][self.lang]
        except KeyError:
            raise KeyError(f"no words for '{key}' in api/pages/i18n") from None
        return text.format(**values) if values else text


def pick_language(*candidates: str | None) -> Language:
    """The first candidate that is a language we speak; French, the seeds' language, else."""
    for candidate in candidates:
        if candidate in LANGUAGES:
            return candidate  # type: ignore[return-value]
    return "fr"


def from_accept_language(header: str | None) -> str | None:
    """The first of fr/en in an Accept-Language header, by the order given (weights ignored:
    browsers list languages by preference)."""
    for part in (header or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return None
