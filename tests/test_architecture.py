"""The import rule of docs/design.md, checked on the code as it is.

- The stages import one way, bottom to top (the import-linter contract in pyproject.toml):
  core -> config -> inputs -> candidates | network -> model -> solve -> render -> results
  -> pipeline -> grid_ops | studies -> cli.
- No module imports itself back through others (no import cycles, function-level imports
  included).
- No module takes another package's private names (``from siting.render.maps import _x``):
  what a package shares, it names in public.

Each check is also run on a copy of the code with one rule broken, so it is shown to fail.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    """import-linter's ``lint-imports`` on the package under ``root`` (with its
    pyproject.toml)."""
    code = "import sys; from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run(
        [sys.executable, "-c", code, "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(REPO / "siting", root / "siting", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_stages_import_one_way():
    r = _lint_imports(REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout, r.stdout


def test_the_layer_contract_catches_an_upward_import(tmp_path):
    root = _copy(tmp_path)
    f = root / "siting" / "core" / "errors.py"
    f.write_text(f.read_text() + "\n\ndef _up():\n    import siting.cli  # noqa: F401\n")
    r = _lint_imports(root)
    assert r.returncode != 0, r.stdout
    assert "siting.core.errors -> siting.cli" in r.stdout, r.stdout


def test_the_verification_contract_catches_a_solver_import(tmp_path):
    """The verification must recheck a plan from its tables alone: an import of the solver
    package (which brings Pyomo), even an indirect one, breaks the contract."""
    root = _copy(tmp_path)
    f = root / "siting" / "results" / "verify.py"
    f.write_text(f.read_text() + "\n\ndef _solver():\n    import siting.solve.lazy  # noqa: F401\n")
    r = _lint_imports(root)
    assert r.returncode != 0, r.stdout
    assert "The plan's verification reads tables and inputs alone" in r.stdout, r.stdout
    assert "BROKEN" in r.stdout, r.stdout


def test_importing_the_verification_loads_neither_pyomo_nor_highs():
    """At run time too (the static contract does not see a package's ``__init__``)."""
    code = (
        "import sys, siting.results.verify\n"
        "print(sorted(m for m in ('pyomo', 'highspy') if m in sys.modules))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", r.stdout


def _cycles(package_dir: Path) -> list[list[str]]:
    """The import cycles among the modules of the package in ``package_dir`` (Tarjan's
    strongly connected components of grimp's graph, function-level imports included; an
    import under ``if TYPE_CHECKING:`` is for the type checker and never runs, so it is
    left out, as pyproject's import contracts leave it out)."""
    sys.path.insert(0, str(package_dir))
    try:
        g = grimp.build_graph("siting", cache_dir=None, exclude_type_checking_imports=True)
    finally:
        sys.path.remove(str(package_dir))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.find_modules_directly_imported_by(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(g.modules):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert _cycles(REPO) == []


def test_the_cycle_check_finds_one(tmp_path, monkeypatch):
    root = _copy(tmp_path)
    f = root / "siting" / "core" / "files.py"
    back = "\n\ndef _back():\n    import siting.core.provenance  # noqa: F401\n"
    f.write_text(f.read_text() + back)
    for name in [m for m in sys.modules if m == "siting" or m.startswith("siting.")]:
        monkeypatch.delitem(sys.modules, name)
    assert ["siting.core.files", "siting.core.provenance"] in _cycles(root)


def _package(module: str) -> str:
    """``siting.render.maps`` -> ``siting.render``; a top-level module is its own package."""
    return ".".join(module.split(".")[:2])


def private_imports(root: Path) -> list[str]:
    """Every ``from siting.X import _name`` whose module is in another package than X's,
    as ``file:line: module takes X._name``."""
    found = []
    for f in sorted((root / "siting").rglob("*.py")):
        rel = f.relative_to(root)
        module = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if not (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("siting")):
                continue
            for a in node.names:
                private = a.name.startswith("_") and not a.name.startswith("__")
                if private and _package(node.module) != _package(module):
                    found.append(f"{rel}:{node.lineno}: {module} takes {node.module}.{a.name}")
    return found


def test_no_package_takes_another_packages_private_names():
    assert private_imports(REPO) == []


def test_the_private_name_check_finds_one(tmp_path):
    root = _copy(tmp_path)
    f = root / "siting" / "studies" / "sweep.py"
    f.write_text(f.read_text() + "\n\nfrom siting.core.io import _write_error  # noqa: E402,F401\n")
    new = sorted(set(private_imports(root)) - set(private_imports(REPO)))
    assert len(new) == 1 and "takes siting.core.io._write_error" in new[0], new


@pytest.mark.parametrize("folder", ["core", "config", "inputs", "solve", "results", "cli"])
def test_every_stage_package_says_what_it_holds(folder):
    doc = ast.get_docstring(ast.parse((REPO / "siting" / folder / "__init__.py").read_text()))
    assert doc and len(doc) > 40, folder


#: Most lines a function may have (its signature, docstring and body).
MAX_FUNCTION_LINES = 120
#: Functions allowed over it, each with its reason; docs/design.md lists them too.
LONG_FUNCTION_EXCEPTIONS: dict[str, str] = {}


def long_functions(root: Path, limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """``{"siting/x.py:name": lines}`` of every function (methods and nested ones included)
    over ``limit`` lines under ``root/siting``."""
    found = {}
    for f in sorted((root / "siting").rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > limit:
                    found[f"{f.relative_to(root).as_posix()}:{node.name}"] = n
    return found


def test_no_function_over_120_lines_but_the_listed_exceptions():
    over = long_functions(REPO)
    unlisted = {k: n for k, n in over.items() if k not in LONG_FUNCTION_EXCEPTIONS}
    assert unlisted == {}, f"split these into named steps (or list them, with a reason): {unlisted}"
    stale = sorted(set(LONG_FUNCTION_EXCEPTIONS) - set(over))
    assert stale == [], f"no longer over {MAX_FUNCTION_LINES} lines: remove from the list {stale}"
    design = (REPO / "docs" / "design.md").read_text()
    for k in LONG_FUNCTION_EXCEPTIONS:
        assert f"`{k}`" in design, f"docs/design.md must list the exception {k} and why"


def test_the_length_check_finds_a_long_function(tmp_path):
    root = _copy(tmp_path)
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    f = root / "siting" / "core" / "clock.py"
    f.write_text(f.read_text() + f"\n\ndef _long() -> None:\n{body}")
    new = set(long_functions(root)) - set(long_functions(REPO))
    assert new == {"siting/core/clock.py:_long"}, new
