"""The versions siting says it needs are the ones it is tested with, and an untested Pyomo is
refused with a message naming both versions (the HiGHS adapter reads Pyomo internals).
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from test_plan import write_region
from typer.testing import CliRunner

from siting.cli import app
from siting.solve.highs import PYOMO_TESTED, SolverError, check_pyomo

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _spec(name: str) -> SpecifierSet:
    for r in map(Requirement, PROJECT["dependencies"]):
        if r.name == name:
            return r.specifier
    raise AssertionError(f"{name} is not among pyproject.toml's dependencies")


def test_pyproject_allows_exactly_the_tested_pyomo_minors():
    spec = _spec("pyomo")
    for major, minor in PYOMO_TESTED:
        assert f"{major}.{minor}.0" in spec and f"{major}.{minor}.99" in spec, spec
    lo, hi = PYOMO_TESTED[0], PYOMO_TESTED[-1]
    assert f"{lo[0]}.{lo[1] - 1}.99" not in spec, spec  # the minor before: untested
    assert f"{hi[0]}.{hi[1] + 1}.0" not in spec, spec  # the next minor: untested


def test_the_installed_pyomo_is_a_tested_one():
    check_pyomo()  # raises otherwise


@pytest.mark.parametrize("version", [(6, 7, 0), (6, 11, 0), (7, 0, 1)])
def test_an_untested_pyomo_is_refused_naming_both_versions(version):
    with pytest.raises(SolverError) as e:
        check_pyomo(version)
    msg = str(e.value)
    found = ".".join(map(str, version))
    assert f"Pyomo {found} is installed" in msg, msg
    assert "tested with Pyomo 6.10.x" in msg, msg
    assert "pip install 'pyomo>=6.10,<6.11'" in msg, msg


def test_plan_with_an_untested_pyomo_exits_1_with_the_message(tmp_path, monkeypatch):
    import pyomo.version

    monkeypatch.setattr(pyomo.version, "version_info", (6, 7, 0, "final", 0))
    scenario = write_region(tmp_path)
    r = CliRunner().invoke(app, ["plan", str(scenario), "--out", str(tmp_path / "out")])
    assert r.exit_code == 1, r.output
    text = " ".join(r.output.split())
    assert "Pyomo 6.7.0 is installed" in text, text
    assert "Traceback" not in text
    assert not (tmp_path / "out").exists()


def test_the_declared_python_is_the_one_tested():
    """Python 3.11 is declared: the code uses ``datetime.UTC`` (3.11+), and
    CI runs on Debian's python3 (3.11). 3.10 is not claimed."""
    spec = SpecifierSet(PROJECT["requires-python"])
    assert "3.10.13" not in spec and "3.11.0" in spec, spec
    here = ".".join(map(str, sys.version_info[:3]))
    assert here in spec, (here, spec)
    ruff = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["ruff"]
    assert ruff["target-version"] == "py311"
