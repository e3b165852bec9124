"""Property-based fuzzing of scenario files (issue 8, reliability and security).

Every scenario YAML either loads into a valid :class:`~siting.config.scenario.Scenario` or fails
with a :class:`~siting.core.errors.ScenarioError` whose problems name the file and, where a key
is involved, its dotted path; never a traceback from inside a library, never a hang, never
code run from the file. The inputs are the demo scenario (``models/demo.yaml``), the tiny
region of ``conftest.py`` and the minimal scenario of ``test_scenario.py``, mutated: values
of other types and out of range, keys missing, unknown, misspelt or in Unicode, deep
nesting, YAML tags, anchors and aliases (alias bombs), duplicate keys, raw-text damage and
``extends:`` chains with cycles, missing files, directories and devices. Some of the
scenarios that load are run through ``siting validate`` (in-process) on the tiny region,
and a few with extreme but valid numbers are planned (the three-bus region of
``test_plan.py``): each must succeed or raise a :class:`~siting.core.errors.SitingError`.

Examples are derandomised (``derandomize=True``, no example database), so CI runs the same
cases every time. ``test_zz_case_counts`` runs last and checks that enough cases ran; it
prints the counts (``pytest -s``).
"""

from __future__ import annotations

import ast
import copy
import json
import math
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fuzzing import no_hang
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from siting.config.scenario import (
    MAX_SCENARIO_BYTES,
    MAX_SCENARIO_NUMBER,
    Scenario,
    _model_at,
    load_scenario,
    scenario_from_dict,
)
from siting.core.errors import ScenarioError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import Region  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEMO_FILE = REPO / "models" / "demo.yaml"
MINIMAL = {"name": "t", "years": [2027, 2028], "layers": {"grid": {"path": "grid/case.m"}}}

#: Longest one scenario load may take [s] before it counts as a hang.
LOAD_LIMIT_S = 10.0
#: Outcomes by test: ``valid`` or ``named_error`` (each case counted once).
COUNTS: dict[str, Counter[str]] = {}
#: Fewest cases the whole file must run (the brief: at least 3,000).
MIN_CASES = 3000

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)


# --------------------------------------------------------------------------- helpers


def absolute_paths(node: Any, base: Path) -> Any:
    """The tree with every ``path:`` made absolute (so a copy can be written anywhere)."""
    if isinstance(node, dict):
        return {
            k: str((base / v).resolve())
            if k == "path" and isinstance(v, str)
            else absolute_paths(v, base)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [absolute_paths(v, base) for v in node]
    return node


DEMO = absolute_paths(yaml.safe_load(DEMO_FILE.read_text()), DEMO_FILE.parent)


def count(test: str, outcome: str) -> None:
    COUNTS.setdefault(test, Counter())[outcome] += 1


def dotted(path: tuple[Any, ...]) -> str:
    return ".".join("''" if p == "" else str(p) for p in path)


def related(field: str | None, key: str) -> bool:
    """Whether a problem's field is the key, inside it, or a section holding it."""
    if not field:
        return False
    return field == key or field.startswith(key + ".") or key.startswith(field + ".")


def check_scenario(sc: Scenario) -> None:
    """What every scenario that loads must satisfy."""
    # every path absolute, in the model and in the scenario as run
    found: list[Path] = []

    def walk(v: Any) -> None:
        if isinstance(v, Path):
            found.append(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)

    walk(sc.model_dump())
    assert all(p.is_absolute() for p in found), found
    as_run = json.loads(sc.canonical_json())
    assert len(sc.digest()) == 64
    assert as_run["name"] == sc.name
    # the output folder maps/<name>/ stays inside maps/
    maps = Path("/nowhere/maps")
    out = Path(os.path.normpath(maps / sc.name))
    assert out.parent == maps and sc.name not in (".", "..") and "/" not in sc.name
    assert sc.years == sorted(set(sc.years))
    # numbers finite and not absurd
    numbers: list[float] = []

    def nums(v: Any) -> None:
        if isinstance(v, bool):
            return
        if isinstance(v, (int, float)):
            numbers.append(v)
        elif isinstance(v, dict):
            for x in v.values():
                nums(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                nums(x)

    nums(sc.model_dump())
    assert all(math.isfinite(x) and abs(x) <= MAX_SCENARIO_NUMBER for x in numbers)


def load_case(
    test: str, path: Path, files: set[str] | None = None
) -> tuple[Scenario | None, ScenarioError | None]:
    """Load ``path``; a scenario is checked, an error must name its file(s); nothing else."""
    t0 = time.perf_counter()
    with no_hang(LOAD_LIMIT_S):
        try:
            sc = load_scenario(path)
        except ScenarioError as e:
            error = e
            sc = None
        # anything else (KeyError, RecursionError, TimeoutError ...) fails the test
    assert time.perf_counter() - t0 < LOAD_LIMIT_S
    if sc is not None:
        check_scenario(sc)
        count(test, "valid")
        return sc, None
    allowed = {str(path), str(path.resolve())} | (files or set())
    text = str(error)
    assert error.problems, text
    assert "Traceback" not in text and "pydantic_core" not in text, text
    # no raw control code (ANSI escape, bidi override, NUL) reaches the terminal
    assert all(c.isprintable() or c == "\n" for c in text), repr(text)
    for p in error.problems:
        assert p.message, text
        assert p.file, f"problem names no file: {p}"
        assert p.file in allowed or any(p.file.startswith(f) for f in allowed), (
            f"problem names {p.file}, not one of {allowed}: {p}"
        )
    count(test, "named_error")
    return None, error


def write_yaml(path: Path, tree: Any) -> Path:
    path.write_text(yaml.safe_dump(tree, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- strategies

NASTY_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "🚀🔥💧",
    "مرحبا بالعالم",
    "\u202eevil\u202c",
    "שלום",
    "../../etc/passwd",
    "/etc/passwd",
    "..",
    ".",
    "~",
    "~root/x",
    "~nosuchuser123/x",
    "C:\\Windows",
    "a" * 5000,
    "é" * 300,
    "\n",
    "\t\r",
    "yes",
    "null",
    ".inf",
    "1e308",
    "-1",
    "0x1F",
    "2027-13-45",
    "EPSG:4326",
    "*alias",
    "&anchor",
    "!!python/object/apply:os.system",
    "{{ template }}",
    "%s%n",
    "<script>alert(1)</script>",
    "\ufeffBOM",
    "\U0001f600" * 100,
    "\x1b[2J\x1b]0;pwned\x07",
    "a\rb",
    "\x7f\x9b",
]
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
NUMBERS = st.one_of(
    st.integers(-(10**6), 10**6),
    st.integers(),
    st.sampled_from(
        [0, -1, -0.0, 1e308, -1e308, 1e-308, 5e-324, math.inf, -math.inf, math.nan]
        + [2**63, 10**20, 10**100, 1.5, 1e15, 1e16, 2027, 1899, 2201, 8760, 0.5]
    ),
    st.floats(),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    NUMBERS,
    TEXT,
    st.sampled_from(NASTY_TEXT),
    st.dates(),
)
KEYS = st.one_of(
    TEXT,
    st.sampled_from(
        NASTY_TEXT
        + ["path", "extends", "source_file", "name", "years", "layers", "costs", "grid"]
        + ["capex_usd_per_mwh", "modul_mw", "__class__", "__init__", "model_config"]
    ),
    st.integers(-5, 3000),
    st.booleans(),
    st.none(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=8,
)


PLAUSIBLE = st.one_of(
    st.floats(0, 1e6, allow_nan=False),
    st.integers(0, 10_000),
    st.sampled_from([0, 1, 0.5, 1e-9, 1e-3, 1e9, 1e12, 1e15, -1, 2027, 2030, 8760]),
)


def same_type(value: Any) -> st.SearchStrategy[Any]:
    """Values like ``value``: numbers for numbers, text for text, lists of like items."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, (int, float)):
        return PLAUSIBLE
    if isinstance(value, str):
        return st.one_of(TEXT, st.sampled_from(NASTY_TEXT))
    if isinstance(value, list) and value:
        return st.lists(same_type(value[0]), max_size=6)
    if isinstance(value, dict) and value:
        k, v = next(iter(value.items()))
        return st.dictionaries(KEYS if k is None else same_type(k), same_type(v), max_size=6)
    return VALUES


def nodes(tree: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every (path, value) below the root."""
    items = (
        tree.items()
        if isinstance(tree, dict)
        else enumerate(tree)
        if isinstance(tree, list)
        else ()
    )
    for k, v in items:
        yield (*here, k), v
        yield from nodes(v, (*here, k))


def get(tree: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        tree = tree[k]
    return tree


def deep_value(depth: int, kind: str) -> Any:
    v: Any = 1
    for i in range(depth):
        v = [v] if (kind == "list" or (kind == "mixed" and i % 2)) else {"a": v}
    return v


@st.composite
def mutations(draw: st.DrawFn, base: dict[str, Any]) -> tuple[dict[str, Any], list[tuple]]:
    """``base`` with 1-3 random mutations, and the list of what was done."""
    tree = copy.deepcopy(base)
    done: list[tuple] = []
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p, _ in nodes(tree)]
        dicts = [()] + [p for p, v in nodes(tree) if isinstance(v, dict)]
        op = draw(
            st.sampled_from(["set", "set", "tweak", "tweak", "delete", "unknown", "typo", "nest"])
        )
        if op in ("set", "tweak", "delete", "nest") and not paths:
            op = "unknown"
        if op == "set":
            path = draw(st.sampled_from(paths))
            get(tree, path[:-1])[path[-1]] = draw(VALUES)
        elif op == "tweak":  # a value of the same type, often a valid one
            path = draw(st.sampled_from(paths))
            get(tree, path[:-1])[path[-1]] = draw(same_type(get(tree, path)))
        elif op == "nest":
            path = draw(st.sampled_from(paths))
            depth = draw(st.integers(1, 60))
            get(tree, path[:-1])[path[-1]] = deep_value(
                depth, draw(st.sampled_from(["list", "dict", "mixed"]))
            )
        elif op == "delete":
            path = draw(st.sampled_from(paths))
            parent = get(tree, path[:-1])
            if isinstance(parent, list):
                parent.pop(path[-1])
            else:
                del parent[path[-1]]
        elif op == "unknown":
            path = draw(st.sampled_from(dicts))
            key = draw(KEYS)
            parent = get(tree, path)
            if key in parent:
                continue
            parent[key] = draw(st.one_of(st.just(1), VALUES))
        else:  # typo: rename a key to a near miss
            path = draw(st.sampled_from([p for p in paths if isinstance(p[-1], str)] or [()]))
            if not path:
                continue
            parent = get(tree, path[:-1])
            old = path[-1]
            new = draw(
                st.sampled_from(
                    [
                        old + "s",
                        old[:-1],
                        old.upper(),
                        old.replace("_", "-"),
                        old + "_usd",
                        " " + old,
                    ]
                )
            )
            if not new or new in parent:
                continue
            parent[new] = parent.pop(old)
            path = (*path[:-1], new)
        done.append((op, path if op != "unknown" else (*path, key)))
    return tree, done


def check_key_named(error: ScenarioError, done: list[tuple], base: dict[str, Any]) -> None:
    """For a single clean mutation, the problem names the key that was changed."""
    if len(done) != 1:
        return
    op, path = done[0]
    key = dotted(path)
    fields = [p.field for p in error.problems]
    whole_file = [p for p in error.problems if p.field is None]
    if op in ("unknown", "typo"):
        model = _model_at(path)
        if not isinstance(path[-1], str) or model is None or path[-2:-1] == ("it_mw_by_year",):
            return
        assert any(related(f, key) for f in fields) or whole_file, (
            key,
            [str(p) for p in error.problems],
        )
        return
    if op == "delete":
        model = _model_at(path)
        if model is None or not isinstance(path[-1], str) or path[-1] not in model.model_fields:
            return
        if model.model_fields[path[-1]].is_required():
            assert any(
                p.field == key and "required key is missing" in p.message for p in error.problems
            ), (key, [str(p) for p in error.problems])
        return
    # a value changed: a problem names it, a section holding it, or a rule across keys
    if path[0] == "years":
        return
    assert any(related(f, key) for f in fields) or any(
        p.field is None or "." in (p.field or "") for p in error.problems
    ), (key, [str(p) for p in error.problems])


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The conftest tiny region, written once; its scenario with absolute paths."""
    root = tmp_path_factory.mktemp("tiny")
    region = Region(root)
    path = region.write()
    return root, absolute_paths(yaml.safe_load(path.read_text()), root)


# --------------------------------------------------------------------------- tree fuzzing


@settings(FUZZ, max_examples=900)
@given(data=st.data())
def test_mutated_demo_loads_or_names_the_problem(work, data):
    tree, done = data.draw(mutations(DEMO))
    path = write_yaml(work / "demo_case.yaml", tree)
    sc, error = load_case("mutated_demo", path)
    if error is not None:
        check_key_named(error, done, DEMO)


@settings(FUZZ, max_examples=500)
@given(data=st.data())
def test_mutated_minimal_loads_or_names_the_problem(work, data):
    tree, done = data.draw(mutations(MINIMAL))
    path = write_yaml(work / "minimal_case.yaml", tree)
    sc, error = load_case("mutated_minimal", path)
    if error is not None:
        check_key_named(error, done, MINIMAL)


@settings(FUZZ, max_examples=400)
@given(data=st.data())
def test_mutated_tiny_loads_or_names_the_problem(work, tiny, data):
    root, base = tiny
    tree, done = data.draw(mutations(base))
    path = write_yaml(work / "tiny_case.yaml", tree)
    sc, error = load_case("mutated_tiny", path)
    if error is not None:
        check_key_named(error, done, base)
    elif data.draw(st.integers(0, 3)) == 0:  # a quarter of those that load: their layers too
        run_validate(path, root)


def run_validate(path: Path, root: Path) -> int:
    """``siting validate`` in-process: exit 0, or 1 with problems that name a file."""
    from siting.cli import app
    from siting.cli.common import EXIT_INVALID

    with no_hang(60):
        result = CliRunner().invoke(app, ["validate", str(path)])
    out = result.output
    assert "internal error" not in out and "Traceback" not in out, out
    assert result.exit_code in (0, EXIT_INVALID), (result.exit_code, out, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), out
    if result.exit_code == 0:
        count("validate_layers", "valid")
    else:
        problems = [line[4:] for line in out.splitlines() if line.startswith("  - ")]
        assert problems, out
        for line in problems:  # each names a file (absolute: paths are resolved) first
            assert line.startswith("/") or line.startswith("... and "), out
            assert all(c.isprintable() for c in line), repr(line)
        count("validate_layers", "named_error")
    return result.exit_code


# --------------------------------------------------------------------------- raw text

DEMO_TEXT = yaml.safe_dump(DEMO, allow_unicode=True, sort_keys=False)


@settings(FUZZ, max_examples=500)
@given(data=st.data())
def test_damaged_yaml_text_loads_or_names_the_problem(work, data):
    lines = DEMO_TEXT.splitlines()
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(lines) - 1))
        op = data.draw(st.sampled_from(["drop", "dup", "swap", "insert", "indent", "cut", "char"]))
        if op == "drop" and len(lines) > 1:
            lines.pop(i)
        elif op == "dup":
            lines.insert(i, lines[i])  # a repeated key, or a repeated list item
        elif op == "swap":
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "insert":
            lines.insert(i, data.draw(st.one_of(TEXT, st.sampled_from(NASTY_TEXT))))
        elif op == "indent":
            lines[i] = " " * data.draw(st.integers(1, 5)) + lines[i]
        elif op == "cut":
            lines = lines[: i + 1]
            lines[-1] = lines[-1][: data.draw(st.integers(0, len(lines[-1])))]
        else:
            line = lines[i]
            j = data.draw(st.integers(0, len(line)))
            ch = data.draw(st.sampled_from(list(":-[]{},&*!|>'\"%@`#?\t\\") + ["\x00", "é"]))
            lines[i] = line[:j] + ch + line[j + 1 :]
    path = work / "text_case.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    load_case("damaged_text", path)


#: YAML written by hand at one key: tags (Python objects must never be built), special
#: numbers, aliases, merge keys, duplicate keys. ``{m}`` is the marker file.
SNIPPETS = [
    "!!python/object/apply:os.system ['touch {m}']",
    "!!python/object/apply:subprocess.check_call [['touch', '{m}']]",
    "!!python/object/new:os.system ['touch {m}']",
    '!!python/object/apply:builtins.exec [\'open("{m}", "w")\']',
    "!<tag:yaml.org,2002:python/object/apply:os.system> ['touch {m}']",
    "!!python/name:os.system",
    "!!python/module:os",
    "!!python/tuple [1, 2]",
    "!!python/bytes aGk=",
    "!!binary aGk=",
    "!!set {{a, b}}",
    "!!omap [{{a: 1}}, {{b: 2}}]",
    "!!pairs [{{a: 1}}, {{a: 2}}]",
    "!!timestamp 2027-01-01",
    "!!int abc",
    "!!float x",
    "!!bool maybe",
    "!!bool [1]",
    "!!timestamp abc",
    "!!float ''",
    "!!int ''",
    "!!set [a]",
    "!!map [1]",
    "!!seq {{a: 1}}",
    "!!omap [5]",
    "!!binary '@@@'",
    "!!merge 1",
    "!!str 5",
    "!!null x",
    "!custom 5",
    ".inf",
    "-.inf",
    ".nan",
    ".NaN",
    "1e400",
    "1.0e+400",
    "-1.0e+400",
    "1.0e+16",
    "0x7fffffffffffffffffff",
    "0o777",
    "0b101",
    "190:20:30",
    "2027-13-45",
    "2027-02-30 25:61:61",
    "~",
    '"\\0"',
    '"a\\0b"',
    '"\\ud800"',
    '"\\udfff tail"',
    '"\\U0001F600"',
    '"\\u202eevil"',
    "*undefined_alias",
    "&self [*self]",
    "&selfmap {{a: *self}}",
    "{{<<: {{a: 1}}, b: 2}}",
    "{{a: 1, a: 2}}",
    "{{<<: [*undefined]}}",
    "[",
    "{{",
    "'unclosed",
    "|\n  block\n  text",
    "? [a, b]\n  : c",
    "{{[a, b]: c}}",
    "{{{{a: 1}}: 2}}",
    "9" * 4000,
    "9" * 5000,
    "-" + "9" * 20,
    "1" + ":1" * 3000,
    "[" + ", ".join(["x"] * 2000) + "]",
]


@settings(FUZZ, max_examples=450)
@given(data=st.data())
def test_yaml_tags_and_special_values_never_run_code(work, data):
    tree = copy.deepcopy(DEMO)
    paths = [p for p, _ in nodes(tree)]
    path = data.draw(st.sampled_from(paths))
    get(tree, path[:-1])[path[-1]] = "__SNIPPET__"
    marker = work / "pwned"
    marker.unlink(missing_ok=True)
    snippet = data.draw(st.sampled_from(SNIPPETS)).format(m=marker)
    text = yaml.safe_dump(tree, allow_unicode=True, sort_keys=False)
    # a block snippet needs its own lines; indent it under the key
    indent = " " * (2 * len(path) + 2)
    snippet = snippet.replace("\n", "\n" + indent)
    text = text.replace("__SNIPPET__", snippet, 1)
    case = work / "tag_case.yaml"
    case.write_text(text, encoding="utf-8")
    load_case("tags_and_values", case)
    assert not marker.exists(), f"{snippet!r} ran code"


# --------------------------------------------------------------------------- aliases, depth


@settings(FUZZ, max_examples=60)
@given(
    fanout=st.integers(2, 10),
    depth=st.integers(1, 12),
    where=st.sampled_from(["top", "layers.exclusions", "grid.outages", "description", "x.y"]),
)
def test_alias_bombs_are_refused_quickly(work, fanout, depth, where):
    lines = ["name: bomb", "years: [2027, 2028]"]
    if where != "layers.exclusions":
        lines.append("layers: {grid: {path: grid/case.m}}")
    lines.append(f"l0: &l0 [{', '.join(['lol'] * fanout)}]")
    for i in range(1, depth + 1):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fanout)}]")
    last = f"*l{depth}"
    if where == "top":
        lines.append(f"bomb: {last}")
    elif where == "x.y":
        lines.append(f"x: {{y: {last}}}")
    else:
        section, key = where.split(".") if "." in where else (where, None)
        grid = "grid: {path: grid/case.m}, " if section == "layers" else ""
        lines.append(f"{section}: {last}" if key is None else f"{section}: {{{grid}{key}: {last}}}")
    path = work / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    t0 = time.perf_counter()
    sc, error = load_case("alias_bombs", path)
    assert time.perf_counter() - t0 < 5
    assert error is not None  # the anchors' keys are unknown at least
    if fanout ** (depth + 1) > 200_000:
        assert "alias" in str(error), str(error)


@settings(FUZZ, max_examples=50)
@given(depth=st.integers(10, 100_000), style=st.sampled_from(["flow_list", "flow_map", "block"]))
def test_deep_nesting_is_refused_with_a_message(work, depth, style):
    if style == "flow_list":
        body = "[" * depth + "]" * depth
    elif style == "flow_map":
        body = "{a: " * depth + "1" + "}" * depth
    else:
        depth = min(depth, 2000)  # block nesting grows as depth^2 bytes
        body = (
            "\n" + "".join(" " * (i + 1) + "a:\n" for i in range(depth)) + " " * (depth + 1) + "1"
        )
    path = work / "deep.yaml"
    path.write_text(f"name: deep\nyears: [2027]\nlayers: {{}}\ndescription: {body}\n")
    sc, error = load_case("deep_nesting", path)
    assert error is not None
    if depth > 40:
        assert "nested" in str(error) or "bytes" in str(error), str(error)


# --------------------------------------------------------------------------- extends chains


@pytest.fixture(scope="module")
def specials(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files ``extends`` may point at that are no scenario: a pipe, a list, nothing."""
    root = tmp_path_factory.mktemp("specials")
    fifo = root / "pipe.yaml"
    os.mkfifo(fifo)
    (root / "empty.yaml").write_text("")
    (root / "list.yaml").write_text("- a\n- b\n")
    (root / "binary.yaml").write_bytes(b"\xff\xfe\x00garbage")
    (root / "huge.yaml").write_text("#" * (MAX_SCENARIO_BYTES + 10))
    (root / "bad_key.yaml").write_text("name: base\nyears: [2027]\nlayers: {}\ncosts: {x: 1}\n")
    return {p.stem: p for p in root.iterdir()} | {"dir": root}


TARGETS = [
    "none",
    "file",
    "file",
    "file",
    "missing",
    "dir",
    "dev_null",
    "dev_zero",
    "pipe",
    "empty",
    "list",
    "binary",
    "huge",
    "bad_key",
    "int",
    "list_value",
    "empty_string",
    "long_name",
    "dotdot",
    "self",
]


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_extends_chains_load_or_name_the_problem(work, specials, data):
    n = data.draw(st.integers(1, 5))
    root = Path(tempfile.mkdtemp(dir=work))
    files = [root / f"s{i}.yaml" for i in range(n)]
    for i, f in enumerate(files):
        doc: dict[str, Any] = (
            copy.deepcopy(MINIMAL)
            if data.draw(st.booleans())
            else {"water": {"potable_cap_m3_per_day": data.draw(NUMBERS)}}
        )
        doc["name"] = f"s{i}"
        target = data.draw(st.sampled_from(TARGETS))
        ext: Any = {
            "none": None,
            "file": f"s{data.draw(st.integers(0, n - 1))}.yaml",
            "missing": "nowhere.yaml",
            "dir": ".",
            "dev_null": "/dev/null",
            "dev_zero": "/dev/zero",
            "int": 5,
            "list_value": ["s0.yaml"],
            "empty_string": "",
            "long_name": "a" * 300 + ".yaml",
            "dotdot": f"../{root.name}/s0.yaml",
            "self": f"s{i}.yaml",
        }.get(target, str(specials.get(target, "")))
        if ext is not None:
            doc["extends"] = ext
        write_yaml(f, doc)
    allowed = {str(f) for f in files} | {str(p) for p in specials.values()}
    allowed |= {str(root), "/dev/null", "/dev/zero", str(root / "nowhere.yaml")}
    allowed |= {str(root / ("a" * 300 + ".yaml"))}
    sc, error = load_case("extends_chains", files[0], allowed)
    if error is not None:
        for p in error.problems:
            if "circle" in p.message:
                assert p.field == "extends"


def test_extends_to_a_pipe_or_device_does_not_block(tmp_path, specials):
    for target in (specials["pipe"], Path("/dev/zero"), Path("/dev/urandom")):
        f = write_yaml(tmp_path / "s.yaml", {**MINIMAL, "extends": str(target)})
        with no_hang(5), pytest.raises(ScenarioError) as e:
            load_scenario(f)
        assert "not a regular file" in str(e.value)
        assert f"named by 'extends' in {f}" in str(e.value)


# --------------------------------------------------------------------------- name and paths

NAMES = [
    "../../etc",
    "..",
    ".",
    "",
    " ",
    "/etc",
    "/tmp/x",
    "a/b",
    "a\\b",
    "a\x00b",
    "x" * 81,
    "x" * 10_000,
    ".hidden",
    "-rf",
    "demo\n",
    "démo",
    "🚀",
    "CON",
    "a..b",
    "~",
    "$HOME",
    "a b",
    "name:with:colons",
]


@settings(FUZZ, max_examples=300)
@given(name=st.one_of(st.sampled_from(NAMES), TEXT, st.integers(), st.none(), st.booleans()))
def test_name_never_leaves_the_output_folder(work, name):
    path = write_yaml(work / "name_case.yaml", {**MINIMAL, "name": name})
    sc, error = load_case("names", path)
    if sc is not None:
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}", sc.name)
    else:
        assert any(p.field == "name" for p in error.problems), str(error)


@pytest.mark.parametrize("name", ["../../etc", "..", "", "/abs", "a/b", "a\x00b", "x" * 81])
def test_bad_names_are_refused_clearly(tmp_path, name):
    path = write_yaml(tmp_path / "s.yaml", {**MINIMAL, "name": name})
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    assert str(path) in str(e.value) and "field 'name'" in str(e.value)


def test_paths_are_absolute_in_the_scenario_as_run(tmp_path):
    (tmp_path / "sub").mkdir()
    path = write_yaml(
        tmp_path / "sub" / "s.yaml",
        {
            **MINIMAL,
            "layers": {
                "grid": {"path": "../grid/./case.m"},
                "exclusions": [{"path": "x.gpkg"}, {"path": str(tmp_path / "a" / ".." / "b.gpkg")}],
            },
            "policy": {"demand": {"costs_csv": "c.csv"}},
        },
    )
    with pytest.raises(ScenarioError):  # demand needs demand regions: the paths still resolve
        load_scenario(path)
    data = {**MINIMAL, "layers": {"grid": {"path": "../grid/./case.m"}}}
    data["layers"]["exclusions"] = [{"path": "x.gpkg"}, {"path": str(tmp_path / "a/../b.gpkg")}]
    write_yaml(path, data)
    sc = load_scenario(path)
    as_run = json.loads(sc.canonical_json())
    assert as_run["layers"]["grid"]["path"] == str(tmp_path / "grid" / "case.m")
    assert [e["path"] for e in as_run["layers"]["exclusions"]] == [
        str(tmp_path / "sub" / "x.gpkg"),
        str(tmp_path / "b.gpkg"),
    ]
    # every Path field of the schema is one the loader resolves
    from siting.config.scenario import _PATH_KEYS, _inner_model

    def path_fields(model: Any, seen: set) -> set[str]:
        if model in seen:
            return set()
        seen.add(model)
        out = set()
        for name, fld in model.model_fields.items():
            if "Path" in str(fld.annotation) and name != "source_file":
                out.add(name)
            inner = _inner_model(fld.annotation)
            if inner is not None:
                out |= path_fields(inner, seen)
        return out

    assert path_fields(Scenario, set()) <= set(_PATH_KEYS)


@pytest.mark.parametrize(
    "path_value, expected",
    [
        ("", "empty path"),
        ("   ", "empty path"),
        ("~nosuchuser123/x", "cannot resolve the path"),
        ("a\x00b", "contains a NUL character"),
    ],
)
def test_unusable_paths_are_named(tmp_path, path_value, expected):
    path = write_yaml(tmp_path / "s.yaml", {**MINIMAL, "layers": {"grid": {"path": path_value}}})
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    assert f"{path}, field 'layers.grid.path': {expected}" in str(e.value)


def test_yaml_is_read_only_by_safe_loaders():
    """Every YAML read in siting/ goes through yaml.safe_load or a SafeLoader subclass."""
    unsafe = {"unsafe_load", "unsafe_load_all", "full_load", "full_load_all", "load_all"}
    unsafe_loaders = {"Loader", "FullLoader", "UnsafeLoader", "CLoader", "CFullLoader"}
    for file in sorted((REPO / "siting").rglob("*.py")):
        tree = ast.parse(file.read_text(), str(file))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if node.value.id == "yaml":
                    assert node.attr not in unsafe | unsafe_loaders, f"{file}:{node.lineno}"
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "yaml"
                and node.func.attr == "load"
            ):
                loader = next((k.value for k in node.keywords if k.arg == "Loader"), None)
                assert isinstance(loader, ast.Name), (
                    f"{file}:{node.lineno}: yaml.load without Loader"
                )
                module = file.relative_to(REPO).with_suffix("").as_posix().replace("/", ".")
                cls = getattr(__import__(module, fromlist=["x"]), loader.id)
                assert issubclass(cls, yaml.SafeLoader), f"{file}:{node.lineno}"
                python_tags = [t for t in cls.yaml_constructors if t and "python" in t]
                python_tags += [t for t in cls.yaml_multi_constructors if t and "python" in t]
                assert not python_tags, python_tags


# --------------------------------------------------------------------------- limits


@pytest.mark.parametrize(
    "extra, field, expected",
    [
        ({"years": list(range(1900, 2002))}, "years", "at most 100"),
        ({"title": "t" * 1001}, "title", "at most 1000"),
        ({"description": "d" * 20_001}, "description", "at most 20000"),
        ({"solver": {"threads": 100_000}}, "solver.threads", "less than or equal to 1024"),
        ({"costs": {"capex_usd_per_mw": "1e308"}}, "costs.capex_usd_per_mw", "at most 1e+15"),
        ({"costs": {"capex_usd_per_mw": 1e16}}, "costs.capex_usd_per_mw", "at most 1e+15"),
        ({"policy": {"co2_cap_t": math.nan}}, "policy.co2_cap_t", "finite"),
        ({"solver": {"time_limit_s": math.inf}}, "solver.time_limit_s", "finite"),
        ({"solver": {"time_limit_s": "inf"}}, "solver.time_limit_s", "finite number"),
        ({"campus": {"cooling": ["air", "air"]}}, "campus.cooling", "more than once"),
        ({"source_file": "/etc/passwd"}, "source_file", "set by the loader"),
    ],
)
def test_limits_have_clear_messages(tmp_path, extra, field, expected):
    path = write_yaml(tmp_path / "s.yaml", {**MINIMAL, **extra})
    with no_hang(LOAD_LIMIT_S), pytest.raises(ScenarioError) as e:
        load_scenario(path)
    text = str(e.value)
    assert str(path) in text and expected in text, text
    if field:
        assert f"field '{field}'" in text, text


def test_oversized_file_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("name: t\n" + "# padding\n" * (MAX_SCENARIO_BYTES // 10 + 1))
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    assert "a scenario file may be at most 1,000,000 bytes" in str(e.value)


def test_realistic_scenarios_still_load():
    for f in sorted((REPO / "models").glob("demo*.yaml")):
        if "sweep" not in f.name:
            check_scenario(load_scenario(f))
    # a long, realistic one: yearly to 2100, hourly-ish snapshots, a WKT CRS, many outages
    data = copy.deepcopy(DEMO)
    data["years"] = list(range(2027, 2101))
    data["targets"] = {"it_mw_by_year": {y: 100.0 * (y - 2026) for y in data["years"]}}
    data["grid"] = {"outages": [str(i) for i in range(5000)]}
    data["crs"] = "PROJCS[" + "x" * 5000 + "]"
    check_scenario(scenario_from_dict(data))


def test_duplicate_keys_name_both_lines_and_merge_keys_still_work(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: t\nyears: [2027]\nlayers: {}\ncosts: {discount_rate: 0.1}\ncosts: {}\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    assert "line 5" in str(e.value) and "found key 'costs' twice (first at line 4)" in str(e.value)
    path.write_text(
        "base: &b {discount_rate: 0.1, capex_usd_per_mw: 1.0e+6}\n"
        "name: t\nyears: [2027]\nlayers: {}\n"
    )
    with pytest.raises(ScenarioError) as e:  # 'base' is no key of a scenario
        load_scenario(path)
    assert "field 'base'" in str(e.value)
    path.write_text(
        "name: t\nyears: [2027]\nlayers: {}\n"
        "costs: &b {discount_rate: 0.1, capex_usd_per_mw: 1.0e+6}\n"
        "solver: {mip_gap: 0.01}\n"
        "grid: {derate: {<<: {L1: 0.5}, L1: 0.8}}\n"
    )
    sc = load_scenario(path)
    assert sc.grid.derate == {"L1": 0.8} and sc.costs.discount_rate == 0.1


# --------------------------------------------------------------------------- validate (layers)


def _tiny_targets(root: Path) -> list[str]:
    files = sorted(str(p) for p in root.iterdir())
    return files + [str(root), str(root / "missing.gpkg"), "/dev/null", str(root / ("a" * 300))]


@settings(FUZZ, max_examples=50)
@given(data=st.data())
def test_validate_on_mutated_layers_exits_cleanly(work, tiny, data):
    """``siting validate`` (in-process) on the tiny region with layer entries changed."""
    root, base = tiny
    tree = copy.deepcopy(base)
    refs = [p for p, v in nodes(tree) if isinstance(v, dict) and "path" in v]
    for _ in range(data.draw(st.integers(1, 2))):
        ref = data.draw(st.sampled_from(refs))
        entry = get(tree, ref)
        op = data.draw(
            st.sampled_from(["path", "path", "layer", "band", "crs", "classes", "format"])
        )
        if op == "path":
            entry["path"] = data.draw(st.sampled_from(_tiny_targets(root)))
        elif op == "layer" and "band" not in entry and "dry_bulb" not in dotted(ref):
            entry["layer"] = data.draw(
                st.one_of(st.sampled_from(list(Region.LAYERS) + ["nope", ""]), TEXT)
            )
        elif op == "band" and ref[1] in ("land_cost", "land_class", "climate"):
            entry["band"] = data.draw(st.integers(-1, 5))
        elif op == "crs":
            tree["crs"] = data.draw(
                st.one_of(
                    st.sampled_from(
                        [
                            "EPSG:4326",
                            "EPSG:3083",
                            "EPSG:999999",
                            "garbage",
                            "+proj=longlat",
                            "EPSG:",
                        ]
                    ),
                    TEXT,
                )
            )
        elif op == "classes":
            tree["layers"]["land_class"]["exclude_classes"] = data.draw(
                st.lists(st.integers(-300, 300), max_size=5)
            )
        elif op == "format":
            tree["layers"]["grid"]["format"] = data.draw(
                st.sampled_from(["auto", "layers", "matpower", "pandapower"])
            )
    path = write_yaml(work / "validate_case.yaml", tree)
    run_validate(path, root)


def test_a_bad_key_is_named_in_the_file_of_the_chain_that_wrote_it(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(
        "name: base\nyears: [2027, 2028]\nlayers: {grid: {path: g.m}}\n"
        "costs: {capex_usd_per_mw: -1, discount_rate: 0.1}\n"
    )
    child = tmp_path / "child.yaml"
    child.write_text("extends: base.yaml\nname: child\ncosts: {discount_rate: 5}\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(child)
    where = {p.field: p.file for p in e.value.problems}
    assert where == {
        "costs.capex_usd_per_mw": str(base),
        "costs.discount_rate": str(child),
    }


# --------------------------------------------------------------------------- plan

#: Numeric settings a plan fuzz varies (all valid keys of the scenario).
PLAN_KEYS = [
    ("costs", "capex_usd_per_mw"),
    ("costs", "site_fixed_cost_usd"),
    ("costs", "interconnection_usd_per_km"),
    ("costs", "interconnection_usd_per_mw"),
    ("costs", "pipeline_usd_per_km"),
    ("costs", "energy_usd_per_mwh"),
    ("costs", "water_usd_per_m3"),
    ("costs", "discount_rate"),
    ("costs", "final_period_years"),
    ("campus", "module_mw"),
    ("campus", "max_campus_mw"),
    ("campus", "max_build_mw_per_year"),
    ("grid", "campus_utilisation"),
    ("grid", "voll_usd_per_mwh"),
    ("water", "cap_m3_per_day"),
    ("candidates", "land_ha_per_mw"),
    ("candidates", "max_bus_distance_km"),
    ("growth_zones", "distance_km"),
    ("growth_zones", "corridor_buffer_km"),
]


@pytest.fixture(scope="module")
def plan_region(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The three-bus region of ``test_plan.py`` (it plans in about a second)."""
    from test_plan import write_region

    root = tmp_path_factory.mktemp("plan_region")
    return absolute_paths(yaml.safe_load(write_region(root).read_text()), root)


@settings(FUZZ, max_examples=15)
@given(data=st.data())
def test_valid_extreme_numbers_plan_or_fail_with_a_named_error(work, plan_region, data):
    """Scenarios that load with extreme but valid numbers plan, or fail with a SitingError."""
    from siting.core.errors import SitingError
    from siting.pipeline import plan

    tree = copy.deepcopy(plan_region)
    for section, key in data.draw(st.lists(st.sampled_from(PLAN_KEYS), min_size=1, max_size=3)):
        tree.setdefault(section, {})[key] = data.draw(
            st.sampled_from([0, 1e-9, 1e-3, 0.5, 0.999, 1, 10, 1e6, 1e9, 1e12, 1e15])
        )
    path = write_yaml(work / "plan_case.yaml", tree)
    sc, error = load_case("plan_extremes", path)
    if sc is None:
        return
    with no_hang(120):
        try:
            plan(sc, write=False, time_limit_s=20)
        except SitingError as e:
            assert str(e)
            count("plan", "named_error")
            return
    count("plan", "valid")


# --------------------------------------------------------------------------- tally


def test_zz_case_counts():
    """Enough cases ran; print how many loaded and how many failed with a named error."""
    expected = {
        "mutated_demo",
        "mutated_minimal",
        "mutated_tiny",
        "damaged_text",
        "tags_and_values",
        "alias_bombs",
        "deep_nesting",
        "extends_chains",
        "names",
        "validate_layers",
        "plan_extremes",
        "plan",
    }
    if not expected <= set(COUNTS):
        pytest.skip(f"only part of the file ran ({sorted(COUNTS)})")
    total = Counter()
    for c in COUNTS.values():
        total.update(c)
    lines = [
        f"{k:18s} valid {c['valid']:5d}  named error {c['named_error']:5d}"
        for k, c in sorted(COUNTS.items())
    ]
    n = sum(total.values())
    lines.append(
        f"{'total':18s} valid {total['valid']:5d}  named error {total['named_error']:5d}  = {n}"
    )
    print("\nscenario fuzzing cases:\n" + "\n".join(lines))
    assert n >= MIN_CASES, n
    assert total["valid"] > 0 and total["named_error"] > 0
