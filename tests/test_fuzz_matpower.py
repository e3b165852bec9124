"""Property-based fuzzing of the grid readers (MATPOWER ``.m`` and pandapower JSON).

The property, for every generated file: the public readers (:func:`read_matpower`,
:func:`read_pandapower`, :func:`siting.inputs.load_grid_case`) and the DC network
built on what they return (:func:`siting.network.dc_network`, :func:`ptdf`) either

- give a sane grid: unique IDs, every reference resolving, finite non-zero
  reactances where in service, every bus kept (islands named in a note), a finite
  PTDF; or
- fail with a :class:`~siting.core.errors.SitingError` (the readers' ``ProblemReport``)
  whose every problem names the file, and the section (``layer``) wherever it names
  a row or a field;

never with another exception (``IndexError``, ``KeyError``, numpy's ``ValueError``,
``ZeroDivisionError`` ...), never hanging (each file has a time limit), and never
silently (a mutation known to break a file must be reported at the row and field it
broke).

Seeds: a hand-written 6-bus case, and pglib-opf case14/case30 when
``../shared/data/pglib`` is beside the checkout; a small pandapower network written
with ``pandapower.to_json``. Hypothesis runs derandomized without a database, so a CI
run is reproducible; the last test checks the counts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pytest
from fuzzing import no_hang
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siting.core.errors import InputError, ProblemReport
from siting.inputs import load_grid_case
from siting.inputs.grids.matpower import read_matpower
from siting.network import DCFlowError, dc_network, ptdf

PGLIB = Path(__file__).parents[1] / ".." / "shared" / "data" / "pglib"
PGLIB_MISSING = (
    "../shared/data/pglib not found: the pglib cases are only beside the project checkout, "
    "not in a user's clone"
)
PGLIB_SEEDS = ("pglib_opf_case14_ieee.m", "pglib_opf_case30_ieee.m")

#: Longest a reader may take on one generated file before it counts as a hang [s].
TIME_LIMIT_S = 20

#: (test name, outcome) -> count; outcome is "ok" or "error" (a named SitingError).
COUNTS: Counter[tuple[str, str]] = Counter()

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

logging.getLogger("pandapower").setLevel(logging.CRITICAL)

_WORKDIR = tempfile.TemporaryDirectory(prefix="siting-fuzz-")


def _file(text: str | bytes, suffix: str = ".m") -> Path:
    """Write the generated file (one path per suffix, overwritten each example)."""
    path = Path(_WORKDIR.name) / f"fuzz case{suffix}"
    if isinstance(text, str):
        path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    else:
        path.write_bytes(text)
    return path


# --- a MATPOWER case as rows of tokens ------------------------------------------------------

SECTIONS = ("bus", "gen", "branch", "gencost")


@dataclass
class Case:
    """A MATPOWER case as text tokens, so that any token can be replaced by anything."""

    base_mva: str | None = "100"
    version: str | None = "'2'"
    sections: dict[str, list[list[str]] | None] = field(default_factory=dict)
    bus_name: list[str] | None = None

    def copy(self) -> Case:
        return replace(
            self,
            sections={
                k: None if v is None else [list(r) for r in v] for k, v in self.sections.items()
            },
            bus_name=None if self.bus_name is None else list(self.bus_name),
        )

    def rows(self, name: str) -> list[list[str]]:
        return self.sections.get(name) or []

    def render(self) -> str:
        out = ["function mpc = fuzzcase", "%% a generated case"]
        if self.version is not None:
            out.append(f"mpc.version = {self.version};")
        if self.base_mva is not None:
            out.append(f"mpc.baseMVA = {self.base_mva};")
        for name in SECTIONS:
            rows = self.sections.get(name)
            if rows is None:
                continue
            out.append(f"mpc.{name} = [")
            out.extend("\t" + "\t".join(r) + ";" for r in rows)
            out.append("];")
        if self.bus_name is not None:
            out.append("mpc.bus_name = {")
            out.extend(f"\t'{n}';" for n in self.bus_name)
            out.append("};")
        return "\n".join(out) + "\n"


def _rows(text: str, name: str) -> list[list[str]] | None:
    m = re.search(rf"mpc\.{name}\s*=\s*\[(.*?)\];", text, re.S)
    if m is None:
        return None
    rows = []
    for line in m.group(1).splitlines():
        line = line.split("%")[0].strip().rstrip(";").strip()
        if line:
            rows.append(line.split())
    return rows


def _case_from_text(text: str) -> Case:
    base = re.search(r"mpc\.baseMVA\s*=\s*([^;]+);", text)
    return Case(
        base_mva=base.group(1).strip() if base else None,
        sections={name: _rows(text, name) for name in SECTIONS},
    )


def _bus(i: int, t: int, pd_mw: float, kv: float = 230.0, area: int = 1) -> list[str]:
    return [str(i), str(t), f"{pd_mw:g}", "0", "0", "0", str(area), "1", "0", f"{kv:g}", "1",
            "1.1", "0.9"]  # fmt: skip


def _branch(f: int, t: int, x: float, rate: float = 250.0, tap: float = 0.0) -> list[str]:
    return [str(f), str(t), "0.01", f"{x:g}", "0.02", f"{rate:g}", f"{rate:g}", f"{rate:g}",
            f"{tap:g}", "0", "1", "-360", "360"]  # fmt: skip


def _gen(bus: int, pmax: float) -> list[str]:
    return [str(bus), "0", "0", "300", "-300", "1", "100", "1", f"{pmax:g}", "0"]


SMALL = Case(
    sections={
        "bus": [
            _bus(1, 3, 0),
            _bus(2, 2, 50),
            _bus(3, 1, 90),
            _bus(4, 1, 40, kv=115, area=2),
            _bus(7, 1, 60, kv=115, area=2),
            _bus(9, 2, 0, kv=115, area=2),
        ],
        "gen": [_gen(1, 200), _gen(2, 80), _gen(9, 120)],
        "branch": [
            _branch(1, 2, 0.1),
            _branch(2, 3, 0.2, rate=0),
            _branch(1, 3, 0.15),
            _branch(3, 4, 0.05, tap=0.98),
            _branch(4, 7, 0.3, rate=120),
            _branch(7, 9, 0.25),
            _branch(4, 9, 0.2),
        ],
        "gencost": [
            ["2", "0", "0", "3", "0.01", "20", "0"],
            ["2", "0", "0", "2", "35", "0"],
            ["1", "0", "0", "3", "0", "0", "50", "1000", "120", "3000"],
        ],
    },
    bus_name=["Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta"],
)


def _seeds() -> list[tuple[str, Case]]:
    seeds = [("small", SMALL)]
    if PGLIB.is_dir():
        for name in PGLIB_SEEDS:
            p = PGLIB / name
            if p.is_file():
                seeds.append((name, _case_from_text(p.read_text())))
    return seeds


SEEDS = _seeds()

# --- mutations ----------------------------------------------------------------------------

#: Tokens that are not a usable number where one is needed (or are odd but valid).
ODD_TOKENS = (
    "0", "-0", "-1", "1e-320", "1e308", "1.8e308", "-1.8e308", "9" * 400, "NaN", "nan", "Inf",
    "-Inf", "inf", "abc", "1,5", "0x10", "1e", "--1", "+", "'x'", "\"y\"", "1.2.3", "2*pi", "[]",
    "é", "１", "\u2212" + "1", "1\u00a0", "½", "true", "3.5", "1e5", "1d3", ".", "-.5", "5.",
)  # fmt: skip

#: (layer, 1-based row, field) a mutation expects to be reported, when it is the only one.
Expect = tuple[str, int, str] | None


def _pick_row(draw, case: Case, name: str) -> int | None:
    rows = case.rows(name)
    if not rows:
        return None
    return draw(st.integers(0, len(rows) - 1))


def _set(case: Case, name: str, i: int, j: int, value: str) -> None:
    row = case.sections[name][i]
    while len(row) <= j:
        row.append("0")
    row[j] = value


def _bus_numbers(case: Case) -> list[str]:
    return [r[0] for r in case.rows("bus") if r]


def _unknown_bus(draw, case: Case) -> str:
    known = set()
    for b in _bus_numbers(case):
        with contextlib.suppress(ValueError):
            known.add(float(b))
    value = draw(st.sampled_from(["0", "-1", "1.5", "100000", "99999999", "1e20"]))
    while float(value) in known:
        value = str(int(float(value)) + 1)
    return value


def m_odd_token(draw, case: Case) -> Expect:
    """Any token of any row replaced by an odd one."""
    name = draw(st.sampled_from([s for s in SECTIONS if case.rows(s)]))
    i = _pick_row(draw, case, name)
    j = draw(st.integers(0, len(case.rows(name)[i]) + 2))
    _set(case, name, i, j, draw(st.sampled_from(ODD_TOKENS)))
    return None


def m_bad_branch_bus(draw, case: Case) -> Expect:
    i = _pick_row(draw, case, "branch")
    if i is None:
        return None
    j = draw(st.sampled_from([0, 1]))
    _set(case, "branch", i, j, _unknown_bus(draw, case))
    return ("branch", i + 1, ("F_BUS", "T_BUS")[j])


def m_bad_gen_bus(draw, case: Case) -> Expect:
    i = _pick_row(draw, case, "gen")
    if i is None:
        return None
    _set(case, "gen", i, 0, _unknown_bus(draw, case))
    return ("gen", i + 1, "GEN_BUS")


def m_duplicate_bus(draw, case: Case) -> Expect:
    rows = case.rows("bus")
    if len(rows) < 2:
        return None
    i, k = draw(st.lists(st.integers(0, len(rows) - 1), min_size=2, max_size=2, unique=True))
    rows[k][0] = rows[i][0]
    return ("bus", max(i, k) + 1, "BUS_I")


def m_reactance(draw, case: Case) -> Expect:
    i = _pick_row(draw, case, "branch")
    if i is None:
        return None
    value = draw(st.sampled_from(["0", "-0", "0.0", "-0.1", "NaN", "Inf", "-Inf", "1e-320",
                                  "1e-200", "1e300", "1.8e308"]))  # fmt: skip
    _set(case, "branch", i, 3, value)
    if draw(st.booleans()):  # and a tiny tap: x * tap may underflow to 0
        _set(case, "branch", i, 8, draw(st.sampled_from(["1e-200", "1e-320", "1e300"])))
        return None
    if value in ("0", "-0", "0.0", "NaN", "Inf", "-Inf", "1.8e308"):
        return ("branch", i + 1, "BR_X")
    return None


def m_tap_shift(draw, case: Case) -> Expect:
    i = _pick_row(draw, case, "branch")
    if i is None:
        return None
    j = draw(st.sampled_from([8, 9]))
    _set(case, "branch", i, j, draw(st.sampled_from(["-1", "NaN", "Inf", "1e-320", "1e308", "0"])))
    return None


def m_drop_section(draw, case: Case) -> Expect:
    what = draw(
        st.sampled_from(["bus", "gen", "branch", "gencost", "baseMVA", "version", "bus_name"])
    )
    if what == "baseMVA":
        case.base_mva = None
        return ("baseMVA", 0, "")
    if what == "version":
        case.version = None
    elif what == "bus_name":
        case.bus_name = None
    else:
        case.sections[what] = None
        if what != "gencost":
            return (what, 0, "")
    return None


def m_empty_section(draw, case: Case) -> Expect:
    what = draw(st.sampled_from(SECTIONS))
    case.sections[what] = []
    return None


def m_base_mva(draw, case: Case) -> Expect:
    case.base_mva = draw(st.sampled_from(["0", "-100", "NaN", "Inf", "1e400", "abc", "[100]",
                                          "'100'", "", "100 200", "1e-300", "1e300"]))  # fmt: skip
    return None


def m_row_length(draw, case: Case) -> Expect:
    name = draw(st.sampled_from([s for s in SECTIONS if case.rows(s)]))
    i = _pick_row(draw, case, name)
    row = case.sections[name][i]
    if draw(st.booleans()):
        del row[draw(st.integers(0, len(row))) :]
        if not row:
            row.append("1")
    else:
        row.extend(
            draw(st.lists(st.sampled_from(["0", "1", "-2.5", "1e3"]), min_size=1, max_size=30))
        )
    return None


def m_bus_type(draw, case: Case) -> Expect:
    rows = case.rows("bus")
    if not rows:
        return None
    how = draw(st.sampled_from(["one", "no_ref", "all_ref", "isolated"]))
    if how == "one":
        i = _pick_row(draw, case, "bus")
        value = draw(st.sampled_from(["0", "5", "-1", "3.5", "NaN", "4", "2", "1", "3"]))
        _set(case, "bus", i, 1, value)
        return ("bus", i + 1, "BUS_TYPE") if value in ("0", "5", "-1", "3.5") else None
    for r in rows:
        if len(r) > 1:
            r[1] = {"no_ref": "1", "all_ref": "3", "isolated": "4"}[how]
    return None


def m_ratings(draw, case: Case) -> Expect:
    i = _pick_row(draw, case, "branch")
    if i is None:
        return None
    j = draw(st.sampled_from([5, 6, 7]))
    value = draw(st.sampled_from(["0", "-1", "-250", "Inf", "NaN", "1e-9", "1e20"]))
    _set(case, "branch", i, j, value)
    if value in ("-1", "-250") and j in (5, 7):
        return ("branch", i + 1, ("RATE_A", "RATE_B", "RATE_C")[j - 5])
    return None


def m_status(draw, case: Case) -> Expect:
    name = draw(st.sampled_from(["branch", "gen"]))
    rows = case.rows(name)
    if not rows:
        return None
    j = 10 if name == "branch" else 7
    which = draw(st.lists(st.integers(0, len(rows) - 1), min_size=1, max_size=len(rows)))
    value = draw(st.sampled_from(["0", "-1", "2", "0.5"]))
    for i in which:
        _set(case, name, i, j, value)
    return None


def m_islands(draw, case: Case) -> Expect:
    """Cut all branches at some buses (out of service, or deleted): islands, isolated buses."""
    buses = _bus_numbers(case)
    rows = case.rows("branch")
    if not buses or not rows:
        return None
    cut = set(draw(st.lists(st.sampled_from(buses), min_size=1, max_size=3)))
    delete = draw(st.booleans())
    keep = []
    for r in rows:
        if r[0] in cut or (len(r) > 1 and r[1] in cut):
            if delete:
                continue
            _set(case, "branch", rows.index(r), 10, "0")
        keep.append(r)
    case.sections["branch"] = keep
    return None


def m_gencost(draw, case: Case) -> Expect:
    rows = case.rows("gencost")
    if not rows:
        return None
    how = draw(st.sampled_from(["drop_row", "add_row", "model", "ncost", "short", "pwl_desc",
                                "double"]))  # fmt: skip
    i = draw(st.integers(0, len(rows) - 1))
    if how == "drop_row":
        del rows[i]
    elif how == "add_row":
        rows.append(list(rows[i]))
    elif how == "model":
        rows[i][0] = draw(st.sampled_from(["0", "3", "-1", "1.5", "NaN"]))
    elif how == "ncost":
        rows[i].extend(["0"] * (4 - len(rows[i])))  # an earlier "short" may have cut it
        rows[i][3] = draw(st.sampled_from(["0", "-1", "1", "100", "2.5", "1e308", "NaN"]))
    elif how == "short":
        del rows[i][draw(st.integers(1, len(rows[i]))) :]
    elif how == "pwl_desc":
        rows[i][:] = ["1", "0", "0", "3", "50", "10", "20", "5", "80", "30"]
    elif how == "double":
        rows.extend([list(r) for r in rows])
    return None


def m_huge(draw, case: Case) -> Expect:
    name = draw(st.sampled_from([s for s in SECTIONS if case.rows(s)]))
    i = _pick_row(draw, case, name)
    j = draw(st.integers(0, len(case.rows(name)[i]) - 1))
    _set(case, name, i, j, draw(st.sampled_from(["1e300", "-1e300", "1e15", "123456789012345678",
                                                 "4294967297", "9.9e307"])))  # fmt: skip
    return None


def m_bus_name(draw, case: Case) -> Expect:
    if case.bus_name is None:
        case.bus_name = [f"b{k}" for k in range(len(case.rows("bus")))]
    how = draw(st.sampled_from(["unicode", "drop", "add", "quote"]))
    if how == "unicode" and case.bus_name:
        case.bus_name[0] = draw(
            st.text(max_size=20).filter(lambda s: "'" not in s and "\n" not in s)
        )
    elif how == "drop" and case.bus_name:
        case.bus_name.pop()
    elif how == "add":
        case.bus_name.append("extra")
    elif how == "quote" and case.bus_name:
        case.bus_name[0] = "O''Brien % not a comment"
    return None


def m_negative_cycle(draw, case: Case) -> Expect:
    """Reactances that cancel (x and -x in parallel): a singular Bbus."""
    rows = case.rows("branch")
    if not rows:
        return None
    r = list(rows[draw(st.integers(0, len(rows) - 1))])
    if len(r) > 3:
        twin = list(r)
        twin[3] = "-" + r[3].lstrip("-")
        r[3] = r[3].lstrip("-")
        rows.append(twin)
    return None


STRUCTURAL: list[Callable] = [
    m_odd_token, m_bad_branch_bus, m_bad_gen_bus, m_duplicate_bus, m_reactance, m_tap_shift,
    m_drop_section, m_empty_section, m_base_mva, m_row_length, m_bus_type, m_ratings, m_status,
    m_islands, m_gencost, m_huge, m_bus_name, m_negative_cycle,
]  # fmt: skip


def t_crlf(draw, text: str) -> str:
    return text.replace("\n", draw(st.sampled_from(["\r\n", "\r", "\n\r"])))


def t_truncate(draw, text: str) -> str:
    return text[: draw(st.integers(0, len(text)))]


def t_delete_char(draw, text: str) -> str:
    brackets = [k for k, c in enumerate(text) if c in "[]{};'"]
    k = (
        draw(st.sampled_from(brackets))
        if brackets and draw(st.booleans())
        else draw(st.integers(0, max(len(text) - 1, 0)))
    )
    return text[:k] + text[k + 1 :]


def t_insert(draw, text: str) -> str:
    k = draw(st.integers(0, len(text)))
    piece = draw(
        st.one_of(
            st.sampled_from(
                [
                    "[",
                    "]",
                    "{",
                    "}",
                    ";",
                    "'",
                    '"',
                    "...",
                    "%",
                    "% ] ; [ '\n",
                    "\n%{\n",
                    "\n%}\n",
                    "\n%{\nmpc.bus = [];\n%}\n",
                    "%{",
                    ",",
                    ",,",
                    "\t",
                    "\n",
                    "=",
                    "mpc.",
                    "\ufeff",
                    "\x00",
                    "é",
                    "\u2212",
                    "１",
                    "mpc.bus = [\n",
                    "mpc.baseMVA = 0;\n",
                    "function mpc = other\n",
                    "mpc.version = '1';\n",
                    "\n];\n",
                ]
            ),  # fmt: skip
            st.text(max_size=12),
        )
    )
    return text[:k] + piece + text[k:]


def t_comment(draw, text: str) -> str:
    lines = text.split("\n")
    k = draw(st.integers(0, len(lines) - 1))
    comment = draw(st.sampled_from(["% ];", "%{", "% mpc.bus = [", "%% '", "% \u00e9\u4e2d"]))
    lines[k] = lines[k] + " " + comment
    return "\n".join(lines)


def t_long_line(draw, text: str) -> str:
    k = text.find("mpc.branch = [")
    what = draw(st.sampled_from(["comment", "tokens", "spaces"]))
    piece = {
        "comment": "% " + "x" * 200_000 + "\n",
        "tokens": "\t".join(["1"] * 50_000) + ";\n",
        "spaces": " " * 200_000 + "\n",
    }[what]
    if k < 0:
        return text + piece
    k = text.find("\n", k) + 1
    return text[:k] + piece + text[k:]


TEXTUAL: list[Callable] = [t_crlf, t_truncate, t_delete_char, t_insert, t_comment, t_long_line]


@st.composite
def matpower_files(draw) -> tuple[str, bytes | str, list[Expect], Case | None]:
    """(seed, file content, expectations, the case's tokens unless the text was mangled)."""
    kind = draw(st.sampled_from(["struct"] * 6 + ["text"] * 3 + ["bytes"]))
    seed_name, seed = draw(st.sampled_from(SEEDS))
    if kind == "bytes":
        raw = draw(st.one_of(st.just(b""), st.binary(max_size=300)))
        return seed_name, raw, [], None
    case = seed.copy()
    expects = []
    for mutate in draw(st.lists(st.sampled_from(STRUCTURAL), min_size=0 if kind == "text" else 1,
                                max_size=3)):  # fmt: skip
        expects.append(mutate(draw, case))
    text = case.render()
    if kind == "text":
        for mangle in draw(st.lists(st.sampled_from(TEXTUAL), min_size=1, max_size=2)):
            text = mangle(draw, text)
        return seed_name, text, expects, None
    return seed_name, text, expects, case


# --- the property ---------------------------------------------------------------------------


def _check_problems(problems: list, file: str) -> None:
    """Every problem names the file, and the section wherever it names a row or a field."""
    assert problems, "a reader returned None without a problem"
    for p in problems:
        assert p.file == file, f"problem does not name the file: {p}"
        if p.row is not None or p.field is not None:
            assert p.layer, f"problem names a row or field but no section: {p}"
        assert p.message.strip(), f"empty message: {p}"


def _check_grid(grid, where: str) -> None:
    """The grid is sane, and the DC network built on it gives a finite PTDF."""
    buses, br, gen = grid.buses, grid.branches, grid.generators
    assert math.isfinite(grid.base_mva) and grid.base_mva > 0, where
    for name, df in (("buses", buses), ("branches", br), ("generators", gen)):
        assert df.index.is_unique, f"{where}: {name} IDs are not unique"
        assert all(isinstance(i, str) and i for i in df.index), f"{where}: {name} IDs not text"
    assert br["from_bus"].isin(buses.index).all(), where
    assert br["to_bus"].isin(buses.index).all(), where
    assert gen["bus_id"].isin(buses.index).all(), where
    on = br["in_service"].to_numpy(dtype=bool)
    x = br["x_pu"].to_numpy(dtype=float)
    tap = br["tap_ratio"].to_numpy(dtype=float)
    assert np.all(np.isfinite(x[on]) & (x[on] != 0)), f"{where}: bad x_pu kept"
    assert np.all(np.isfinite(tap[on]) & (tap[on] > 0)), f"{where}: bad tap_ratio kept"
    assert not np.isnan(br["rating_mw"].to_numpy(dtype=float)).any(), where
    assert (br["rating_mw"].to_numpy(dtype=float) >= 0).all(), f"{where}: negative rating"
    for col in ("load_mw", "shunt_mw"):
        assert np.isfinite(buses[col].to_numpy(dtype=float)).all(), f"{where}: {col}"
    for col in ("p_max_mw", "p_min_mw"):
        assert not np.isnan(gen[col].to_numpy(dtype=float)).any(), f"{where}: {col}"
    assert set(buses["bus_type"].unique()) <= {1, 2, 3, 4}, where
    net = dc_network(grid)
    assert list(net.bus_ids) == list(buses.index), f"{where}: buses dropped from the network"
    assert np.isfinite(net.b_mw_per_rad).all(), f"{where}: non-finite susceptance"
    assert np.isfinite(net.Bbus.data).all(), f"{where}: non-finite Bbus"
    assert np.isfinite(net.p_shift_branch_mw).all(), f"{where}: non-finite shift injection"
    assert np.isfinite(net.p_shift_bus_mw).all(), f"{where}: non-finite shift injection"
    if net.n_islands > 1:
        assert any("islands" in n for n in net.notes), f"{where}: islands without a note"
    try:
        p = ptdf(net)
    except DCFlowError as e:  # only a singular matrix (reactances that cancel) is allowed
        assert "singular" in str(e), f"{where}: {e}"
        return
    assert p.shape == (net.n_branch, net.n_bus)
    assert np.isfinite(p).all(), f"{where}: non-finite PTDF"


#: A number as MATLAB writes one (ASCII digits only).
STRICT_NUMBER = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[Ii]nf|NaN|nan)", re.ASCII
)


def _check_grid_matches_case(grid, case: Case) -> None:
    """A case read from tokens we wrote: every row kept, every value the token's."""
    rows = {}
    for name in ("bus", "gen", "branch"):
        # values are separated by whitespace (Unicode's too) or commas, as in MATLAB
        rows[name] = [[t for t in re.split(r"[\s,]+", " ".join(r)) if t] for r in case.rows(name)]
        for k, row in enumerate(rows[name]):
            bad = [t for t in row if not STRICT_NUMBER.fullmatch(t)]
            assert not bad, f"{name} row {k + 1}: {bad} read as numbers"
    bus, gen, branch = rows["bus"], rows["gen"], rows["branch"]
    assert len(grid.buses) == len(bus) > 0
    assert len(grid.generators) == len(gen)
    assert len(grid.branches) == len(branch)
    assert list(grid.buses.index) == [str(int(float(r[0]))) for r in bus]
    assert list(grid.branches["from_bus"]) == [str(int(float(r[0]))) for r in branch]
    assert list(grid.branches["to_bus"]) == [str(int(float(r[1]))) for r in branch]
    np.testing.assert_array_equal(grid.branches["x_pu"], [float(r[3]) for r in branch])
    np.testing.assert_array_equal(grid.generators["p_max_mw"], [float(r[8]) for r in gen])
    np.testing.assert_array_equal(grid.buses["load_mw"], [float(r[2]) for r in bus])
    rate_a = [float(r[5]) for r in branch]
    np.testing.assert_array_equal(grid.branches["rating_mw"], [v or math.inf for v in rate_a])
    isolated = {str(int(float(r[0]))) for r in bus if float(r[1]) == 4}
    status = [float(r[10]) == 1 and r[0] not in isolated and r[1] not in isolated for r in branch]
    assert list(grid.branches["in_service"]) == status
    assert list(grid.generators["in_service"]) == [float(r[7]) == 1 for r in gen]


def _expected_reported(problems: list, expect: Expect) -> bool:
    layer, row, field_ = expect
    for p in problems:
        if p.layer != layer:
            continue
        if row == 0 or (p.row == row and p.field == field_):
            return True
    return False


def _run_matpower(
    content: str | bytes, expects: list[Expect], case: Case | None, test: str
) -> None:
    """Read ``content`` with every public reader; ``case``: the tokens, when not mangled."""
    mangled = case is None
    path = _file(content)
    file = str(path)
    report = ProblemReport()
    with no_hang(TIME_LIMIT_S):
        grid = read_matpower(path, report)
    if grid is None:
        _check_problems(report.problems, file)
        if len(expects) == 1 and expects[0] is not None and not mangled:
            assert _expected_reported(report.problems, expects[0]), (
                f"expected a problem at {expects[0]}, got:\n"
                + "\n".join(str(p) for p in report.problems)
            )
        with no_hang(TIME_LIMIT_S), pytest.raises(InputError) as e:
            load_grid_case(path)
        assert file in str(e.value)
        COUNTS[test, "error"] += 1
        return
    assert not report.problems
    if len(expects) == 1 and expects[0] is not None and not mangled:
        pytest.fail(f"expected a problem at {expects[0]}, but the case was read")
    if case is not None:
        _check_grid_matches_case(grid, case)
        if not any(r[1] == "3" for r in case.rows("bus")):
            assert any("no reference bus" in n for n in report.notes)
    with no_hang(TIME_LIMIT_S):
        _check_grid(grid, file)
        layers = load_grid_case(path)
    assert list(layers.grid.buses.index) == list(grid.buses.index)
    COUNTS[test, "ok"] += 1


@settings(FUZZ, max_examples=int(os.environ.get("FUZZ_N", 2880)))
@given(matpower_files())
def test_fuzz_matpower_files(example) -> None:
    seed, content, expects, case = example
    _run_matpower(content, expects, case, "matpower")


# --- pandapower JSON --------------------------------------------------------------------------


def _small_net_json() -> dict | None:
    """A 5-bus pandapower network (lines, a transformer, loads, a gen, costs) as JSON."""
    try:
        import pandapower as pp
    except ImportError:
        return None
    net = pp.create_empty_network(sn_mva=100.0)
    b = [pp.create_bus(net, vn_kv=110.0, name=f"b{i}") for i in range(4)]
    lv = pp.create_bus(net, vn_kv=20.0, name="lv")
    pp.create_ext_grid(net, b[0], max_p_mw=500.0, min_p_mw=0.0)
    for f, t, km in ((0, 1, 10.0), (1, 2, 5.0), (0, 2, 8.0), (2, 3, 3.0)):
        pp.create_line_from_parameters(
            net, b[f], b[t], length_km=km, r_ohm_per_km=0.1, x_ohm_per_km=0.4,
            c_nf_per_km=10.0, max_i_ka=0.6,
        )  # fmt: skip
    pp.create_transformer(net, b[3], lv, std_type="25 MVA 110/20 kV")
    pp.create_load(net, b[2], p_mw=30.0)
    pp.create_load(net, lv, p_mw=10.0)
    pp.create_gen(net, b[1], p_mw=20.0, max_p_mw=50.0, min_p_mw=0.0, controllable=True)
    pp.create_poly_cost(net, 0, "gen", cp1_eur_per_mw=30.0)
    pp.create_poly_cost(net, 0, "ext_grid", cp1_eur_per_mw=50.0)
    doc = json.loads(pp.to_json(net))
    # empty tables are left out (pandapower adds them back when reading): a faster read
    doc["_object"] = {
        k: v
        for k, v in doc["_object"].items()
        if not (
            isinstance(v, dict) and v.get("_class") == "DataFrame" and '"data":[]' in v["_object"]
        )
    }
    return doc


NET_JSON = _small_net_json()
PP_TABLES = ("bus", "line", "trafo", "ext_grid", "gen", "load", "poly_cost")
PP_REFS = {
    "line": ("from_bus", "to_bus"),
    "trafo": ("hv_bus", "lv_bus"),
    "load": ("bus",),
    "gen": ("bus",),
    "ext_grid": ("bus",),
    "poly_cost": ("element",),
}
PP_ODD = (None, "abc", -1, 0, 1e308, -1e308, True, False, [], {}, "NaN", 1.5, 2**63, "", "١")


def _table(doc: dict, name: str) -> dict | None:
    entry = doc["_object"].get(name)
    if not isinstance(entry, dict) or not isinstance(entry.get("_object"), str):
        return None
    try:
        table = json.loads(entry["_object"])
    except ValueError:
        return None
    return table if isinstance(table, dict) and "data" in table else None


def _put_table(doc: dict, name: str, table: dict) -> None:
    doc["_object"][name]["_object"] = json.dumps(table)


def p_drop(draw, doc: dict) -> None:
    name = draw(st.sampled_from((*PP_TABLES, "sn_mva", "std_types", "f_hz")))
    doc["_object"].pop(name, None)


def p_bad_ref(draw, doc: dict) -> None:
    name = draw(st.sampled_from(sorted(PP_REFS)))
    table = _table(doc, name)
    if table is None or not table["data"]:
        return
    j = table["columns"].index(draw(st.sampled_from(PP_REFS[name])))
    i = draw(st.integers(0, len(table["data"]) - 1))
    table["data"][i][j] = draw(st.sampled_from([99, -1, 5, 4, None, "x", 1.5, 2**40]))
    _put_table(doc, name, table)


def p_bad_value(draw, doc: dict) -> None:
    name = draw(st.sampled_from(PP_TABLES))
    table = _table(doc, name)
    if table is None or not table["data"]:
        return
    j = draw(st.integers(0, len(table["columns"]) - 1))
    i = draw(st.integers(0, len(table["data"]) - 1))
    table["data"][i][j] = draw(st.sampled_from(PP_ODD))
    _put_table(doc, name, table)


def p_physics(draw, doc: dict) -> None:
    """Values that break the per-unit conversion: 0 kV, 0 ohm, 0 km, 0 parallel lines."""
    name, col = draw(
        st.sampled_from(
            [
                ("bus", "vn_kv"),
                ("line", "x_ohm_per_km"),
                ("line", "length_km"),
                ("line", "parallel"),
                ("line", "max_i_ka"),
                ("trafo", "vk_percent"),
                ("trafo", "sn_mva"),
                ("trafo", "vn_lv_kv"),
                ("bus", "in_service"),
                ("line", "in_service"),
                ("ext_grid", "in_service"),
                ("gen", "max_p_mw"),
            ]
        )  # fmt: skip
    )
    table = _table(doc, name)
    if table is None or col not in table["columns"] or not table["data"]:
        return
    j = table["columns"].index(col)
    i = draw(st.integers(0, len(table["data"]) - 1))
    table["data"][i][j] = draw(st.sampled_from([0, 0.0, -1.0, 1e-300, 1e300, False]))
    _put_table(doc, name, table)


def p_index(draw, doc: dict) -> None:
    name = draw(st.sampled_from(PP_TABLES))
    table = _table(doc, name)
    if table is None or len(table["index"]) < 2:
        return
    how = draw(st.sampled_from(["duplicate", "negative", "text", "huge"]))
    if how == "duplicate":
        table["index"][1] = table["index"][0]
    elif how == "negative":
        table["index"][0] = -5
    elif how == "text":
        table["index"][0] = "a"
    else:
        table["index"][0] = 2**62
    _put_table(doc, name, table)


def p_dtype(draw, doc: dict) -> None:
    name = draw(st.sampled_from(PP_TABLES))
    entry = doc["_object"].get(name)
    if not isinstance(entry, dict) or not entry.get("dtype"):
        return
    col = draw(st.sampled_from(sorted(entry["dtype"])))
    entry["dtype"][col] = draw(st.sampled_from(["int64", "bool", "object", "nonsense", "uint8",
                                                "datetime64[ns]", "category"]))  # fmt: skip


def p_garbage(draw, doc: dict) -> None:
    name = draw(st.sampled_from((*PP_TABLES, "sn_mva")))
    what = draw(st.sampled_from(["string", "number", "list", "inner", "null", "columns"]))
    if name not in doc["_object"]:
        return
    if what == "inner" and isinstance(doc["_object"][name], dict):
        doc["_object"][name]["_object"] = "{not json"
    elif what == "columns" and _table(doc, name) is not None:
        table = _table(doc, name)
        table["columns"] = table["columns"][:-1]
        _put_table(doc, name, table)
    else:
        doc["_object"][name] = {"string": "text", "number": 5, "list": [], "null": None}.get(
            what, "x"
        )


def p_sn_mva(draw, doc: dict) -> None:
    doc["_object"]["sn_mva"] = draw(st.sampled_from([0, -1, "abc", None, 1e-300, 1e300, [], True]))


PP_MUTATIONS = [p_drop, p_bad_ref, p_bad_value, p_physics, p_index, p_dtype, p_garbage, p_sn_mva]


@st.composite
def pandapower_files(draw) -> str | bytes:
    kind = draw(st.sampled_from(["struct"] * 7 + ["text", "bytes", "other"]))
    if kind == "bytes":
        return draw(st.one_of(st.just(b""), st.binary(max_size=200)))
    if kind == "other":  # JSON, but not a pandapower network
        return draw(st.sampled_from([
            "{}", "[]", "null", "5", '"net"', '{"_module": "pandapower.auxiliary"}',
            '{"_module": "pandapower.auxiliary", "_class": "pandapowerNet", "_object": {}}',
            '{"_module": "pandapower.auxiliary", "_class": "pandapowerNet", "_object": 5}',
            '{"_module": "builtins", "_class": "dict", "_object": {}}',
        ]))  # fmt: skip
    doc = json.loads(json.dumps(NET_JSON))
    for mutate in draw(st.lists(st.sampled_from(PP_MUTATIONS), min_size=1, max_size=2)):
        mutate(draw, doc)
    text = json.dumps(doc)
    if kind == "text":
        k = draw(st.integers(0, len(text)))
        text = (
            text[:k]
            + draw(st.sampled_from(["", "}", "{", '"', ",", "\x00", "é"]))
            + text[k + draw(st.integers(0, 3)) :]
        )
    return text


def _run_pandapower(content: str | bytes, test: str = "pandapower") -> None:
    path = _file(content, suffix=".json")
    file = str(path)
    try:
        with no_hang(TIME_LIMIT_S):
            layers = load_grid_case(path)
    except InputError as e:
        _check_problems(e.problems, file)
        assert file in str(e)
        COUNTS[test, "error"] += 1
        return
    with no_hang(TIME_LIMIT_S):
        _check_grid(layers.grid, file)
    COUNTS[test, "ok"] += 1


@pytest.mark.skipif(NET_JSON is None, reason="pandapower is not installed (siting[pandapower])")
@settings(FUZZ, max_examples=int(os.environ.get("FUZZ_PP_N", 120)))
@given(pandapower_files())
def test_fuzz_pandapower_files(content) -> None:
    _run_pandapower(content)


# --- the bugs the fuzzing found, one by one -------------------------------------------------


def _small_with(edit: Callable[[Case], None]) -> Path:
    case = SMALL.copy()
    edit(case)
    return _file(case.render())


def _problems_of(path: Path) -> str:
    report = ProblemReport()
    assert read_matpower(path, report) is None
    return "\n".join(str(p) for p in report.problems)


def test_tiny_reactance_times_tap_is_reported() -> None:
    # TAP 1e-320: baseMVA / (BR_X * TAP) overflows to inf (an infinite PTDF entry before)
    path = _small_with(lambda c: _set(c, "branch", 0, 8, "1e-320"))
    msg = _problems_of(path)
    assert f"{path}, layer 'branch', row 1 (id '1'), field 'BR_X'" in msg
    assert "is not a finite non-zero number" in msg


def test_branches_at_isolated_bus_are_out_of_service() -> None:
    # MATPOWER's ext2int takes branches at a BUS_TYPE 4 bus out of service; they were kept
    path = _small_with(lambda c: _set(c, "bus", 5, 1, "4"))  # bus 9
    report = ProblemReport()
    grid = read_matpower(path, report)
    assert grid is not None
    at_9 = (grid.branches["from_bus"] == "9") | (grid.branches["to_bus"] == "9")
    assert not grid.branches.loc[at_9, "in_service"].any()
    assert grid.branches.loc[~at_9, "in_service"].all()
    assert any("isolated bus (BUS_TYPE 4" in n for n in report.notes)
    net = dc_network(grid)
    assert net.n_islands == 2 and any("islands" in n for n in net.notes)


@pytest.mark.parametrize("status", ["-1", "2", "0.5"])
def test_status_other_than_0_or_1(status: str) -> None:
    # MATPOWER reads BR_STATUS -1 as in service, this reader read it as out of service
    path = _small_with(lambda c: (_set(c, "branch", 2, 10, status), _set(c, "gen", 1, 7, status)))
    msg = _problems_of(path)
    assert "layer 'branch', row 3 (id '3'), field 'BR_STATUS'" in msg
    assert "layer 'gen', row 2 (id '2'), field 'GEN_STATUS'" in msg
    assert "expected 1 (in service) or 0 (out of service)" in msg


def test_non_ascii_digits_are_not_numbers() -> None:
    # Python's float() reads a fullwidth '１' as 1; MATLAB does not
    path = _small_with(lambda c: _set(c, "branch", 4, 0, "\uff14"))
    assert "layer 'branch', row 5, field 'F_BUS': expected a number" in _problems_of(path)


def test_huge_ncost() -> None:
    # NCOST 1e308 on a piecewise-linear cost: 2 * NCOST is inf, int(inf) raised OverflowError
    path = _small_with(lambda c: _set(c, "gencost", 2, 3, "1e308"))
    assert "layer 'gencost', row 3 (id '3'), field 'NCOST': NCOST 1e+308 needs inf" in (
        _problems_of(path)
    )


def test_empty_bus_table() -> None:
    path = _small_with(lambda c: c.sections.update(bus=[], gen=[], branch=[], gencost=None))
    assert "layer 'bus': mpc.bus has no rows; expected at least one bus" in _problems_of(path)


def test_oversized_file_and_bus_table_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import siting.inputs.grids.matpower as mp

    path = _file(SMALL.render())
    monkeypatch.setattr(mp, "MAX_FILE_BYTES", 100)
    msg = _problems_of(path)
    assert f"{path}: is 0 MB; grid files over 0 MB are refused" in msg
    monkeypatch.setattr(mp, "MAX_FILE_BYTES", 512 * 2**20)
    monkeypatch.setattr(mp, "MAX_BUSES", 5)
    assert "layer 'bus': has 6 rows; cases over 5 buses are refused" in _problems_of(path)


def test_tiny_reactance_with_phase_shift_is_reported() -> None:
    # BR_X 1e-306 gives a finite susceptance, 1e308 MW/rad, but times a 180-degree
    # shift the phase-shift injection overflowed to inf in the DC network
    path = _small_with(
        lambda c: (_set(c, "branch", 3, 3, "1e-306"), _set(c, "branch", 3, 9, "180"))
    )
    msg = _problems_of(path)
    assert "layer 'branch', row 4 (id '4'), field 'BR_X': reactance BR_X 1e-306" in msg


def test_huge_reactance_times_tap_is_reported() -> None:
    # BR_X * TAP = 1e300 * 1e300 overflows to inf: a susceptance of 0, a branch that
    # joins two buses but carries nothing (a singular Bbus, or a silently open line)
    path = _small_with(
        lambda c: (_set(c, "branch", 1, 3, "1e300"), _set(c, "branch", 1, 8, "1e300"))
    )
    assert "layer 'branch', row 2 (id '2'), field 'BR_X': reactance BR_X 1e+300" in (
        _problems_of(path)
    )


def test_dc_network_refuses_infinite_susceptance() -> None:
    # a grid built in code (not read from a file) with x_pu * tap_ratio underflowing
    grid = read_matpower(_file(SMALL.render()), ProblemReport())
    grid.branches.loc["2", "tap_ratio"] = 1e-320
    with pytest.raises(InputError, match=r"row 2 \(id '2'\), field 'x_pu': x_pu \* tap_ratio"):
        dc_network(grid)
    grid.branches.loc["2", ["x_pu", "tap_ratio"]] = (1e300, 1e300)  # b = 0
    with pytest.raises(InputError, match=r"row 2 \(id '2'\), field 'x_pu': x_pu \* tap_ratio"):
        dc_network(grid)
    grid.branches.loc["2", ["x_pu", "tap_ratio"]] = (0.2, 1.0)
    grid.branches.loc["4", ["x_pu", "shift_deg"]] = (1e-306, 180.0)
    with pytest.raises(InputError, match=r"row 4 \(id '4'\), field 'shift_deg': phase shift 180"):
        dc_network(grid)
    grid.branches.loc["4", ["x_pu", "shift_deg"]] = (0.05, 0.0)
    grid.branches.loc[["1", "3"], "x_pu"] = 1e-306  # 1e308 MW/rad twice at bus 1: sum inf
    with pytest.raises(InputError, match=r"layer 'buses', row 1 \(id '1'\), field 'bus_id'"):
        dc_network(grid)


def _pp_problems(doc: dict | str) -> str:
    path = _file(doc if isinstance(doc, str) else json.dumps(doc), suffix=".json")
    with pytest.raises(InputError) as e:
        load_grid_case(path)
    _check_problems(e.value.problems, str(path))
    return str(e.value)


@pytest.mark.skipif(NET_JSON is None, reason="pandapower is not installed (siting[pandapower])")
def test_pandapower_bad_tables_voltages_and_base() -> None:
    doc = json.loads(json.dumps(NET_JSON))
    doc["_object"]["load"] = None  # TypeError deep inside before
    doc["_object"]["sn_mva"] = -1
    assert "layer 'load': is missing; expected a table" in _pp_problems(doc)
    assert "layer 'sn_mva': expected a finite number > 0 [MVA], got -1" in _pp_problems(doc)
    doc = json.loads(json.dumps(NET_JSON))
    bus = _table(doc, "bus")
    bus["data"][2][bus["columns"].index("vn_kv")] = 0  # gave an infinite x_pu before
    _put_table(doc, "bus", bus)
    assert "layer 'bus', row 3 (id '2'), field 'vn_kv': expected a nominal voltage > 0" in (
        _pp_problems(doc)
    )
    assert "could not be read as a pandapower network" in _pp_problems("{}")


def _find_close_by_char(text: str, start: int, opening: str, closing: str) -> int:
    """The reader's bracket matcher as it was, one character at a time (the reference)."""
    depth, quote, prev, i, n = 0, "", "", start, len(text)
    while i < n:
        c = text[i]
        if quote:
            if c == quote:
                if i + 1 < n and text[i + 1] == quote:
                    i += 2
                    continue
                quote = ""
        elif c == opening:
            depth += 1
        elif c == closing:
            depth -= 1
            if depth == 0:
                return i
        elif c == '"' or (c == "'" and (prev == "" or prev in "=([{,;" or text[i - 1].isspace())):
            quote = c
        if not c.isspace():
            prev = c
        i += 1
    return -1


@settings(FUZZ, max_examples=300)
@given(st.text(alphabet="[]{}'\" a;=,\n(\t1%", min_size=1, max_size=40))
def test_find_close_matches_reference(text: str) -> None:
    # the reader jumps from bracket to bracket (twice as fast on a 100,000-bus case)
    from siting.inputs.grids.matpower import _find_close

    for opening, closing in (("[", "]"), ("{", "}")):
        for start in [i for i, c in enumerate(text) if c == opening]:
            assert _find_close(text, start, opening, closing) == _find_close_by_char(
                text, start, opening, closing
            )


@pytest.mark.skipif(not PGLIB.is_dir(), reason=PGLIB_MISSING)
def test_pglib_seeds_read_cleanly() -> None:
    names = [name for name, _ in SEEDS]
    assert names == ["small", *PGLIB_SEEDS]
    for _, case in SEEDS:
        _run_matpower(case.render(), [], case, "seeds")


# --- the counts (keep this test last) -------------------------------------------------------


def test_fuzz_counts() -> None:
    ran = {test for test, _ in COUNTS}
    if "matpower" not in ran:
        pytest.skip("the fuzz tests did not run in this session (run the whole file)")
    total = sum(n for (test, _), n in COUNTS.items() if test in ("matpower", "pandapower"))
    summary = ", ".join(f"{t} {o}: {n}" for (t, o), n in sorted(COUNTS.items()))
    print(f"fuzzed grid files: {total} ({summary})")
    full = "FUZZ_N" not in os.environ and "FUZZ_PP_N" not in os.environ
    if not full:
        return
    assert total >= (3000 if "pandapower" in ran else 2880), summary
    for test in ran & {"matpower", "pandapower"}:
        assert COUNTS[test, "ok"] > 0.1 * COUNTS[test, "error"], f"{test}: too few read: {summary}"
        assert COUNTS[test, "error"] > 0.1 * COUNTS[test, "ok"], (
            f"{test}: too few errors: {summary}"
        )
