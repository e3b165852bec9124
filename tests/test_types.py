"""siting type-checks (mypy, with the settings and the file list of pyproject.toml's
``[tool.mypy]``: every package of siting)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _mypy(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_the_typed_packages_type_check():
    r = _mypy()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Success: no issues found" in r.stdout, r.stdout


def test_the_type_check_catches_a_wrong_type(tmp_path):
    """The same settings on a copy of a typed module with one wrong type fail, naming it."""
    bad = tmp_path / "bad.py"
    src = (REPO / "siting" / "core" / "clock.py").read_text()
    bad.write_text(src + '\n\ndef _wrong() -> int:\n    return "not an int"\n')
    r = _mypy("--config-file", str(REPO / "pyproject.toml"), str(bad), cwd=tmp_path)
    assert r.returncode == 1, r.stdout
    assert 'Incompatible return value type (got "str", expected "int")' in r.stdout, r.stdout
