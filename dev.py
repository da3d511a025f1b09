#!/usr/bin/env python3
"""Set up and run Vivier with nothing but Python 3.11+:

    python3 dev.py run     # virtualenv in .venv, then Vivier (API + scheduler) on http://127.0.0.1:8000
                           # with the demo data on SQLite (var/vivier.db)
    python3 dev.py test    # virtualenv with the test tools, ruff, then the whole test suite

Extra arguments after `test` go to pytest (e.g. `python3 dev.py test -k service`).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if sys.platform == "win32" else "bin")


def sh(*args: str | Path) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    completed = subprocess.run([str(a) for a in args], cwd=ROOT)
    if completed.returncode != 0:
        sys.exit(completed.returncode)


def ensure_venv(extras: str) -> None:
    """Create .venv and install the project; reinstall only when pyproject.toml changes."""
    if sys.version_info < (3, 11):  # noqa: UP036 (dev.py must run on an old Python to say so)
        sys.exit(f"Vivier needs Python 3.11 or later; this is {sys.version.split()[0]}")
    if not (BIN / "python").exists():
        print(f"creating the virtualenv in {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    stamp = VENV / f".installed-{extras or 'base'}"
    if not stamp.exists() or stamp.read_text() != digest:
        sh(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        sh(BIN / "python", "-m", "pip", "install", "--quiet", "-e", f".{extras}")
        stamp.write_text(digest)


def run() -> None:
    ensure_venv("")
    sh(BIN / "vivier", "serve", *sys.argv[2:])


def test(pytest_args: list[str]) -> None:
    ensure_venv("[test]")
    sh(BIN / "ruff", "check", ".")
    sh(BIN / "ruff", "format", "--check", ".")
    sh(BIN / "python", "-m", "pytest", *pytest_args)


def main() -> None:
    command, *rest = sys.argv[1:] or ["help"]
    if command == "run":
        run()
    elif command == "test":
        test(rest)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
