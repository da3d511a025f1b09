"""Where a document's bytes live: one file per Document row in the storage folder, under a name
generated here (uuid4 hex and the detected type's extension), never the client's file name.

The upload route writes them (api/uploads.py), the download route reads them and retention
deletes them (workflow/retention.py): all three find a file through `stored_path`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from pathlib import Path

STORAGE_NAME = re.compile(r"[0-9a-f]{32}\.(pdf|docx|odt)")


def new_storage_name(extension: str) -> str:
    """A fresh generated name for a file of that extension (pdf, docx or odt)."""
    name = f"{uuid.uuid4().hex}.{extension}"
    if not STORAGE_NAME.fullmatch(name):
        raise ValueError(f"no stored document can have the extension {extension!r}")
    return name


def stored_path(directory: Path, storage_name: str) -> Path | None:
    """Where a document's bytes are, or None for a name this module cannot have generated (so a
    tampered row can never point outside the storage folder)."""
    if not STORAGE_NAME.fullmatch(storage_name):
        return None
    return directory / storage_name


def delete_files(directory: Path, storage_names: Iterable[str]) -> int:
    """Remove the documents' files; a file already gone is fine. Returns how many were there."""
    removed = 0
    for name in storage_names:
        path = stored_path(directory, name)
        if path is None:
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed += 1
    return removed
