"""Read MATPOWER version-2 case files into a :class:`~siting.inputs.grids.grid.Grid`.

A hand-written reader, so that no MATLAB, Octave or extra package is needed:

- :func:`parse_matpower` reads the text of a case file (``function mpc = name``,
  ``mpc.version = '2';``, ``mpc.baseMVA = 100;``, the matrices ``mpc.bus``,
  ``mpc.gen``, ``mpc.branch`` and optional ``mpc.gencost``, the optional cell arrays
  ``mpc.bus_name`` and ``mpc.genfuel``) into a :class:`MatpowerCase` of numpy arrays;
- :func:`case_to_grid` applies MATPOWER's conventions and checks the case;
- :func:`read_matpower` does both.

What the parser accepts: ``%`` comments anywhere (also at the end of a row and
``%{ ... %}`` blocks), rows ended by ``;`` and/or a new line, values separated by
spaces, tabs or commas, ``...`` line continuations, numbers such as ``1``, ``-0.5``,
``1e-3``, ``Inf`` and ``NaN``. Unknown fields (``mpc.areas``, ``mpc.gentype`` ...)
are ignored, and so are columns beyond the standard ones (the results columns of a
solved case). Expressions (``2*pi``), version-1 files and ``.mat`` files are not read.

Readers never raise on a bad input: each problem goes into the
:class:`~siting.core.errors.ProblemReport` with the file, the section (as ``layer``), the
1-based row in that section, the bus number or row ID, and the MATPOWER column name
(``BR_X``) as ``field``; the caller raises them together.

Conventions of the resulting grid (those of MATPOWER, kept exactly):

- ``bus_id`` is the MATPOWER bus number as text (``str(int(BUS_I))``); ``branch_id``
  and ``gen_id`` are the 1-based row numbers in ``mpc.branch`` and ``mpc.gen``;
- ``x_pu``, ``r_pu``, ``b_pu`` per unit on ``baseMVA``, as given;
- ``tap_ratio`` is ``TAP``, or 1 where ``TAP`` is 0 (MATPOWER's "no transformer");
- ``rating_mw`` is ``RATE_A`` and ``rating_emergency_mw`` is ``RATE_C``, each ``inf``
  where the case writes 0 (MATPOWER: unlimited). MVA ratings are taken as MW, as a
  DC model does;
- ``load_mw`` is ``PD``; ``shunt_mw`` is ``GS`` (the MW drawn at 1 pu voltage);
- out-of-service branches and generators (``BR_STATUS`` / ``GEN_STATUS`` 0) are
  kept with ``in_service = False``, and so are branches at an isolated bus
  (``BUS_TYPE`` 4), which MATPOWER's ``ext2int`` takes out of service. A status other
  than 0 or 1 is a problem (MATPOWER reads -1 as in service);
- costs: gencost model 1 becomes ``CostCurve("pwl", points)`` in (MW, USD/h), model
  2 ``CostCurve("polynomial", coefficients)`` highest order first, as stored.
"""

from __future__ import annotations

import bisect
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Geod
from pyproj.exceptions import CRSError

from siting.core.errors import MAX_ROWS_NAMED, ProblemReport
from siting.core.files import open_regular, path_problem, read_text_regular
from siting.inputs.grids.grid import CostCurve, Grid

__all__ = [
    "BRANCH_COLUMNS",
    "BUS_COLUMNS",
    "GENCOST_COLUMNS",
    "GEN_COLUMNS",
    "MatpowerCase",
    "case_to_grid",
    "parse_matpower",
    "read_bus_coordinates",
    "read_matpower",
]

# --- MATPOWER's column names (idx_bus, idx_gen, idx_brch, idx_cost) -----------------

BUS_COLUMNS = (
    "BUS_I", "BUS_TYPE", "PD", "QD", "GS", "BS", "BUS_AREA", "VM", "VA", "BASE_KV", "ZONE",
    "VMAX", "VMIN",
)  # fmt: skip
BUS_RESULT_COLUMNS = ("LAM_P", "LAM_Q", "MU_VMAX", "MU_VMIN")
GEN_COLUMNS = (
    "GEN_BUS", "PG", "QG", "QMAX", "QMIN", "VG", "MBASE", "GEN_STATUS", "PMAX", "PMIN",
    "PC1", "PC2", "QC1MIN", "QC1MAX", "QC2MIN", "QC2MAX", "RAMP_AGC", "RAMP_10", "RAMP_30",
    "RAMP_Q", "APF",
)  # fmt: skip
GEN_RESULT_COLUMNS = ("MU_PMAX", "MU_PMIN", "MU_QMAX", "MU_QMIN")
BRANCH_COLUMNS = (
    "F_BUS", "T_BUS", "BR_R", "BR_X", "BR_B", "RATE_A", "RATE_B", "RATE_C", "TAP", "SHIFT",
    "BR_STATUS", "ANGMIN", "ANGMAX",
)  # fmt: skip
BRANCH_RESULT_COLUMNS = ("PF", "QF", "PT", "QT", "MU_SF", "MU_ST", "MU_ANGMIN", "MU_ANGMAX")
GENCOST_COLUMNS = ("MODEL", "STARTUP", "SHUTDOWN", "NCOST", "COST")

# column positions used below
BUS_I, BUS_TYPE, PD, GS, BUS_AREA, BASE_KV = 0, 1, 2, 4, 6, 9
GEN_BUS, GEN_STATUS, PMAX, PMIN = 0, 7, 8, 9
F_BUS, T_BUS, BR_R, BR_X, BR_B, RATE_A, RATE_C, TAP, SHIFT, BR_STATUS = (
    0, 1, 2, 3, 4, 5, 7, 8, 9, 10,
)  # fmt: skip
MODEL, STARTUP, SHUTDOWN, NCOST, COST = 0, 1, 2, 3, 4

MAX_LISTED = MAX_ROWS_NAMED
"""At most this many rows are named for one kind of problem; the rest are counted."""

MAX_FILE_BYTES = 256 * 2**20
"""Largest grid file read [bytes]: a 100,000-bus case takes 10-30 MB (about 10 s to read)."""

MAX_BUSES = 1_000_000
"""Most buses in one case (a national transmission grid has tens of thousands)."""


@dataclass(frozen=True)
class _Section:
    """How one MATPOWER matrix is read."""

    columns: tuple[str, ...]  # names, standard then result columns
    n_required: int  # a row needs at least this many values
    n_kept: int | None  # columns kept in the array (None: all, NaN-padded)
    defaults: tuple[float, ...] = ()  # values of optional kept columns a row leaves out
    inf_allowed: frozenset[str] = frozenset()  # columns where +-Inf means "no limit"

    def column(self, j: int) -> str:
        if j < len(self.columns):
            return self.columns[j]
        if self.n_kept is None:  # gencost: COST, COST+1, ...
            return f"COST+{j - COST}"
        return f"column {j + 1}"

    def expected(self) -> str:
        names = self.columns[: self.n_required]
        return f"{self.n_required} ({' '.join(names)})"


_SECTIONS: dict[str, _Section] = {
    "bus": _Section(
        BUS_COLUMNS + BUS_RESULT_COLUMNS, 13, 13, inf_allowed=frozenset({"VMAX", "VMIN"})
    ),
    # MATPOWER's own case files stop after PMIN; the other standard columns default to 0.
    "gen": _Section(
        GEN_COLUMNS + GEN_RESULT_COLUMNS,
        10,
        21,
        defaults=(0.0,) * 11,
        inf_allowed=frozenset({"QMAX", "QMIN"} | set(GEN_COLUMNS[10:])),
    ),
    # ANGMIN/ANGMAX (columns 12-13) may be left out: they default to -360/360 degrees.
    "branch": _Section(
        BRANCH_COLUMNS + BRANCH_RESULT_COLUMNS,
        11,
        13,
        defaults=(-360.0, 360.0),
        inf_allowed=frozenset({"RATE_A", "RATE_B", "RATE_C", "ANGMIN", "ANGMAX"}),
    ),
    "gencost": _Section(GENCOST_COLUMNS, 4, None),
}
_REQUIRED_SECTIONS = ("bus", "gen", "branch")


@dataclass
class MatpowerCase:
    """The numbers of a MATPOWER case, as read, before any convention is applied.

    Attributes
    ----------
    base_mva
        ``mpc.baseMVA``, the system base [MVA].
    bus
        ``mpc.bus``, shape (nb, 13): BUS_I ... VMIN.
    gen
        ``mpc.gen``, shape (ng, 21): GEN_BUS ... APF (columns after PMIN that the file
        leaves out are 0, as in MATPOWER).
    branch
        ``mpc.branch``, shape (nl, 13): F_BUS ... ANGMAX (ANGMIN/ANGMAX default to
        -360/360 degrees when left out).
    gencost
        ``mpc.gencost`` (MODEL, STARTUP, SHUTDOWN, NCOST, COST...), NaN where a row is
        shorter than the longest; ``None`` when the case has no costs.
    bus_names
        ``mpc.bus_name``, one per bus, if given.
    gen_fuels
        ``mpc.genfuel``, one per generator, if given.
    name
        The function name of the case (``function mpc = case9`` gives ``case9``).
    path
        The file read, if any.
    lines
        Section name -> the 1-based line in the file where each row starts (for
        messages); empty for a case that was not read from a file.
    bus_ids, branch_ids, gen_ids
        IDs to use instead of MATPOWER's (bus number, row number), e.g. pandapower's
        element indices; ``None`` for MATPOWER's own.
    """

    base_mva: float
    bus: np.ndarray
    gen: np.ndarray
    branch: np.ndarray
    gencost: np.ndarray | None = None
    bus_names: tuple[str, ...] | None = None
    gen_fuels: tuple[str, ...] | None = None
    name: str = ""
    path: str | None = None
    lines: dict[str, np.ndarray] = field(default_factory=dict)
    bus_ids: tuple[str, ...] | None = None
    branch_ids: tuple[str, ...] | None = None
    gen_ids: tuple[str, ...] | None = None


# --- reporting helpers ---------------------------------------------------------------


def _report_rows(
    report: ProblemReport,
    rows: np.ndarray | Sequence[int],
    message: Callable[[int], str],
    *,
    file: str | None,
    layer: str | None,
    field: str | None,
    ids: Sequence[str] | None = None,
    lines: np.ndarray | None = None,
    line_word: str = "file line",
) -> None:
    """Add one problem per row (0-based ``rows``) for the first few, then a count."""

    def text(i: int) -> str:
        where = f" ({line_word} {int(lines[i])})" if lines is not None and i < len(lines) else ""
        return message(i) + where

    report.add_rows(rows, text, file=file, layer=layer, field=field, ids=ids, limit=MAX_LISTED)


def _fmt(v: float) -> str:
    """A number as the case would write it: whole numbers exactly (bus 1234567), else 15 digits."""
    v = float(v)
    if math.isfinite(v) and v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.15g}"


def _few(ids: Sequence[str], n: int = 5) -> str:
    shown = ", ".join(f"'{i}'" for i in ids[:n])
    return shown + (f" and {len(ids) - n} more" if len(ids) > n else "")


def _size_ok(path: Path, report: ProblemReport, max_bytes: int | None = None) -> bool:
    """Whether ``path`` is at most ``max_bytes`` (default :data:`MAX_FILE_BYTES`) long."""
    limit = MAX_FILE_BYTES if max_bytes is None else max_bytes
    try:
        size = path.stat().st_size
    except OSError as e:
        report.add(f"could not be read ({e.strerror or e})", file=str(path))
        return False
    if size > limit:
        report.add(
            f"is {size / 2**20:,.0f} MB; grid files over {limit / 2**20:,.0f} MB are refused "
            "(expected a transmission grid case, at most about a million buses)",
            file=str(path),
        )
        return False
    return True


# --- text scanning ---------------------------------------------------------------------

# ASCII digits only: Python's float() also takes '１' (fullwidth) or '٣', MATLAB does not
_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[Ii]nf|NaN|nan)", re.ASCII)
_STRING = re.compile(r"'((?:[^']|'')*)'|\"((?:[^\"]|\"\")*)\"")
_FUNCTION = re.compile(r"^[ \t]*function\b(?P<out>[^=\n]*)=\s*(?P<name>[A-Za-z]\w*)", re.M)


def _string_opens(line: str, i: int, prev: str) -> bool:
    """Whether the ``'`` at ``line[i]`` opens a string (else it is MATLAB's transpose)."""
    return prev == "" or prev in "=([{,;" or line[i - 1].isspace()


def _strip_comment(line: str) -> str:
    """``line`` without its ``%`` comment (a ``%`` inside a quoted string is kept)."""
    if "%" not in line:  # most lines of a large case: no need to scan them
        return line
    quote = ""
    prev = ""
    i = 0
    n = len(line)
    while i < n:
        c = line[i]
        if quote:
            if c == quote:
                if i + 1 < n and line[i + 1] == quote:  # '' or "" inside a string
                    i += 2
                    continue
                quote = ""
        elif c == "%":
            return line[:i]
        elif c == '"' or (c == "'" and _string_opens(line, i, prev)):
            quote = c
        if not c.isspace():
            prev = c
        i += 1
    return line


def _clean_lines(text: str) -> list[str]:
    """The file's lines with comments removed (same number of lines)."""
    out: list[str] = []
    depth = 0
    for line in text.splitlines():
        s = line.strip()
        if s == "%{":
            depth += 1
            out.append("")
            continue
        if depth:
            if s == "%}":
                depth -= 1
            out.append("")
            continue
        out.append(_strip_comment(line))
    return out


def _find_close(text: str, start: int, opening: str, closing: str) -> int:
    """Index of the bracket closing the one at ``text[start]``, or -1.

    Jumps from one bracket or quote to the next (a large case's matrix is megabytes of
    numbers), skipping quoted strings, where ``''`` or ``""`` stand for one quote.
    """
    special = re.compile("[" + re.escape(opening + closing) + "'\"]")
    depth = 0
    i = start
    n = len(text)
    while True:
        m = special.search(text, i)
        if m is None:
            return -1
        i = m.start()
        c = text[i]
        if c == opening:
            depth += 1
        elif c == closing:
            depth -= 1
            if depth == 0:
                return i
        elif c == '"' or text[i - 1].isspace() or text[i - 1] in "=([{,;":
            # a string opens here (a ' after anything else is MATLAB's transpose)
            j = i + 1
            while True:
                k = text.find(c, j)
                if k < 0:
                    return -1
                if k + 1 < n and text[k + 1] == c:
                    j = k + 2
                    continue
                break
            i = k
        i += 1


def _matrix_rows(body: str, first_line: int) -> list[tuple[int, list[str]]]:
    """Split a matrix body into rows of tokens, each with the file line it starts on.

    Rows end at ``;`` or at the end of a line (unless the line ends with ``...``);
    values are separated by whitespace or commas; empty rows are skipped.
    """
    rows: list[tuple[int, list[str]]] = []
    pending: list[str] = []
    pending_line = 0
    for k, line in enumerate(body.split("\n")):
        continued = "..." in line
        if continued:
            line = line[: line.index("...")]
        pieces = line.split(";")
        for j, piece in enumerate(pieces):
            tokens = [t for t in re.split(r"[\s,]+", piece) if t]
            if tokens:
                if not pending:
                    pending_line = first_line + k
                pending.extend(tokens)
            row_ends = j < len(pieces) - 1 or not continued
            if row_ends and pending:
                rows.append((pending_line, pending))
                pending = []
    if pending:
        rows.append((pending_line, pending))
    return rows


def _cell_strings(body: str) -> list[str]:
    """The quoted strings of a cell array body, in order."""
    out = []
    for m in _STRING.finditer(body):
        if m.group(1) is not None:
            out.append(m.group(1).replace("''", "'"))
        else:
            out.append(m.group(2).replace('""', '"'))
    return out


@dataclass
class _Value:
    kind: str  # "matrix", "cell" or "scalar"
    text: str
    line: int  # 1-based file line where the value starts


def _assignments(
    text: str, var: str, line_of: Callable[[int], int], report: ProblemReport, file: str
) -> dict[str, _Value] | None:
    """``var.field = value`` statements of the file (later ones replace earlier ones)."""
    pattern = re.compile(
        rf"(?<![\w.]){re.escape(var)}\.(?P<field>[A-Za-z]\w*)(?P<sub>(?:\.[A-Za-z]\w*)*)\s*=(?!=)\s*"
    )
    found: dict[str, _Value] = {}
    pos = 0
    while True:
        m = pattern.search(text, pos)
        if m is None:
            return found
        name = m.group("field")
        v = m.end()
        opening = text[v] if v < len(text) else ""
        if opening in "[{":
            closing = "]" if opening == "[" else "}"
            end = _find_close(text, v, opening, closing)
            if end < 0:
                report.add(
                    f"'{opening}' opened on line {line_of(v)} is never closed with '{closing}'",
                    file=file,
                    layer=name,
                )
                return None
            value = _Value("matrix" if opening == "[" else "cell", text[v + 1 : end], line_of(v))
            pos = end + 1
        else:
            end_m = re.compile(r"[;\n]").search(text, v)
            end = end_m.start() if end_m else len(text)
            value = _Value("scalar", text[v:end].strip(), line_of(v))
            pos = end
        if not m.group("sub"):  # mpc.a.b = ... is not one of ours
            found[name] = value


def _section_array(
    value: _Value, name: str, report: ProblemReport, file: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """A matrix section as an array (standard columns), and the file line of each row."""
    spec = _SECTIONS[name]
    rows = _matrix_rows(value.text, value.line)
    n = len(rows)
    if name == "bus" and n > MAX_BUSES:
        report.add(
            f"has {n:,} rows; cases over {MAX_BUSES:,} buses are refused (expected a "
            "transmission grid)",
            file=file,
            layer=name,
        )
        return None
    lines = np.array([ln for ln, _ in rows], dtype=np.int64)
    counts = np.array([len(t) for _, t in rows], dtype=np.int64)
    width = spec.n_kept if spec.n_kept is not None else int(counts.max(initial=spec.n_required))
    values = np.full((n, max(width, int(counts.max(initial=0)))), np.nan)
    numeric = np.ones(values.shape, dtype=bool)
    bad_tokens: list[tuple[int, int, str]] = []
    for i, (_, tokens) in enumerate(rows):
        try:
            values[i, : len(tokens)] = [float(t) for t in tokens]
            if not all(_NUMBER.fullmatch(t) for t in tokens):
                raise ValueError
        except ValueError:
            for j, t in enumerate(tokens):
                if _NUMBER.fullmatch(t):
                    values[i, j] = float(t)
                else:
                    values[i, j] = np.nan
                    numeric[i, j] = False
                    bad_tokens.append((i, j, t))
    ok = True
    if bad_tokens:
        ok = False
        for i, j, t in bad_tokens[:MAX_LISTED]:
            report.add(
                f"expected a number, got {t!r} (file line {lines[i]})",
                file=file,
                layer=name,
                row=i + 1,
                field=spec.column(j),
            )
        if len(bad_tokens) > MAX_LISTED:
            report.add(
                f"... and {len(bad_tokens) - MAX_LISTED} more values that are not numbers",
                file=file,
                layer=name,
            )
    short = np.flatnonzero(counts < spec.n_required)
    if len(short):
        ok = False
        _report_rows(
            report,
            short,
            lambda i: (
                f"row has {counts[i]} values; a MATPOWER '{name}' row needs at least "
                f"{spec.expected()}"
            ),
            file=file,
            layer=name,
            field=None,
            lines=lines,
        )
    # the kept columns, with defaults where a row stops early (MATPOWER pads like this)
    kept = values[:, :width].copy()
    present = np.arange(width)[None, :] < counts[:, None]
    if spec.defaults:
        first_optional = width - len(spec.defaults)
        for k, d in enumerate(spec.defaults):
            j = first_optional + k
            kept[~present[:, j], j] = d
    # NaN / Inf in the kept columns (only values that were written as numbers)
    check = present & numeric[:, :width]
    for j in range(width):
        col = spec.column(j)
        inf_bad = np.isinf(kept[:, j]) & (col not in spec.inf_allowed)
        bad = check[:, j] & (np.isnan(kept[:, j]) | inf_bad)
        rows_bad = np.flatnonzero(bad)
        if len(rows_bad):
            ok = False

            def not_finite(i: int, j: int = j) -> str:
                return f"expected a finite number, got {_fmt(kept[i, j])}"

            _report_rows(
                report,
                rows_bad,
                not_finite,
                file=file,
                layer=name,
                field=col,
                lines=lines,
            )
    if not ok:
        return None
    return kept, lines


def _read_case_text(p: Path, file: str, report: ProblemReport) -> str | None:
    """The text of a case file; ``None`` when it is missing, not a regular file, too large
    or unreadable (the report says which)."""
    why = path_problem(p, expected="a MATPOWER case file (.m)")
    if why is not None:
        report.add(
            f"{why}; expected a MATPOWER case file (.m)" if why == "file not found" else why,
            file=file,
        )
        return None
    if not _size_ok(p, report):
        return None
    try:
        text = read_text_regular(p, errors="replace")
    except OSError as e:
        report.add(f"could not be read ({e.strerror or e})", file=file)
        return None
    return text


def _case_function(clean: str, p: Path, file: str, report: ProblemReport) -> tuple[str, str] | None:
    """The struct's name (``mpc``) and the case's name, from ``function mpc = name``.

    Without a function line: ``mpc`` and the file's stem. ``None`` for a version-1
    function returning separate matrices (a problem).
    """
    var, case_name = "mpc", p.stem
    fm = _FUNCTION.search(clean)
    if fm is not None:
        out = fm.group("out").strip()
        case_name = fm.group("name")
        if out.startswith("[") or "," in out:
            report.add(
                f"'function {out} = {case_name}' returns separate matrices: this is a MATPOWER "
                "version 1 case; only version 2 is supported (one struct, "
                "'function mpc = name'). Convert it in MATPOWER with "
                "savecase('new.m', loadcase('old.m'))",
                file=file,
                layer="version",
            )
            return None
        if re.fullmatch(r"[A-Za-z]\w*", out):
            var = out
    return var, case_name


def _version_ok(fields: dict[str, _Value], var: str, file: str, report: ProblemReport) -> bool:
    """Whether the case is version 2 (a case without ``mpc.version`` is read as one, noted)."""
    version = fields.get("version")
    if version is None:
        report.note(f"{file}: no {var}.version; read as a version 2 case")
    else:
        v = version.text.strip().strip("'\"").strip()
        if v != "2":
            report.add(
                f"case format version {v!r}: only MATPOWER version 2 is supported "
                f"({var}.version = '2'). Convert it in MATPOWER with "
                "savecase('new.m', loadcase('old.m'))",
                file=file,
                layer="version",
                field="version",
            )
            return False
    return True


def _base_mva(
    fields: dict[str, _Value], var: str, file: str, report: ProblemReport
) -> tuple[float, bool]:
    """``mpc.baseMVA`` [MVA] and whether it is a finite number > 0 (NaN, False otherwise)."""
    ok = True
    base_mva = float("nan")
    if "baseMVA" not in fields:
        report.add(
            f"no {var}.baseMVA; expected the system base in MVA, e.g. '{var}.baseMVA = 100;'",
            file=file,
            layer="baseMVA",
        )
        ok = False
    else:
        raw = fields["baseMVA"].text
        if _NUMBER.fullmatch(raw) and np.isfinite(float(raw)) and float(raw) > 0:
            base_mva = float(raw)
        else:
            report.add(
                f"expected a finite number > 0 [MVA], got {raw!r} "
                f"(file line {fields['baseMVA'].line})",
                file=file,
                layer="baseMVA",
                field="baseMVA",
            )
            ok = False
    return base_mva, ok


def _section_arrays(
    fields: dict[str, _Value], var: str, file: str, report: ProblemReport
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], bool]:
    """The bus, gen, branch (needed) and gencost matrices, and the file line of each row.

    Returns
    -------
    arrays, lines, ok
        Section name -> array and -> row lines, for the sections that could be read; ``ok``
        False when one is missing, not a matrix or has a problem.
    """
    ok = True
    arrays: dict[str, np.ndarray] = {}
    lines: dict[str, np.ndarray] = {}
    for name in (*_REQUIRED_SECTIONS, "gencost"):
        value = fields.get(name)
        if value is None:
            if name in _REQUIRED_SECTIONS:
                report.add(
                    f"no {var}.{name} matrix; a MATPOWER case needs {var}.bus, {var}.gen "
                    f"and {var}.branch",
                    file=file,
                    layer=name,
                )
                ok = False
            continue
        if value.kind != "matrix":
            report.add(
                f"expected a matrix '{var}.{name} = [ ... ];' (file line {value.line})",
                file=file,
                layer=name,
            )
            ok = False
            continue
        got = _section_array(value, name, report, file)
        if got is None:
            ok = False
            continue
        if name == "bus" and len(got[0]) == 0:
            report.add(
                f"{var}.bus has no rows; expected at least one bus (file line {value.line})",
                file=file,
                layer=name,
            )
            ok = False
            continue
        arrays[name], lines[name] = got
    return arrays, lines, ok


def _cell_names(
    fields: dict[str, _Value],
    arrays: dict[str, np.ndarray],
    var: str,
    file: str,
    report: ProblemReport,
) -> tuple[dict[str, tuple[str, ...] | None], bool]:
    """``mpc.bus_name`` and ``mpc.genfuel``, one string per row of their section.

    A count that does not match is a problem for bus names (``ok`` False) and a note for
    fuels (left empty).
    """
    ok = True
    names: dict[str, tuple[str, ...] | None] = {"bus_name": None, "genfuel": None}
    for cell, section in (("bus_name", "bus"), ("genfuel", "gen")):
        value = fields.get(cell)
        if value is None or section not in arrays:
            continue
        strings = tuple(_cell_strings(value.text)) if value.kind == "cell" else ()
        n = len(arrays[section])
        if len(strings) != n:
            msg = (
                f"has {len(strings)} names for {n} rows of {var}.{section}; expected one "
                f"quoted name per row, e.g. {{ 'a'; 'b' }} (file line {value.line})"
            )
            if cell == "bus_name":
                report.add(msg, file=file, layer=cell)
                ok = False
            else:
                report.note(f"{file}: {var}.{cell} {msg}; fuels left empty")
            continue
        names[cell] = strings
    return names, ok


def parse_matpower(path: str | os.PathLike[str], report: ProblemReport) -> MatpowerCase | None:
    """Read the numbers of a MATPOWER version-2 case file.

    Parameters
    ----------
    path
        The ``.m`` file.
    report
        Problems (missing file or section, version 1, a value that is not a number, a
        row with too few columns, NaN or Inf) are added here.

    Returns
    -------
    MatpowerCase or None
        ``None`` when the file has a problem (the report says which).
    """
    file = str(path)
    p = Path(path)
    text = _read_case_text(p, file, report)
    if text is None:
        return None
    clean = "\n".join(_clean_lines(text))
    starts = [0] + [m.end() for m in re.finditer("\n", clean)]

    def line_of(pos: int) -> int:
        return bisect.bisect_right(starts, pos)

    head = _case_function(clean, p, file, report)
    if head is None:
        return None
    var, case_name = head
    fields = _assignments(clean, var, line_of, report, file)
    if fields is None:
        return None
    if not _version_ok(fields, var, file, report):
        return None
    base_mva, base_ok = _base_mva(fields, var, file, report)
    arrays, lines, sections_ok = _section_arrays(fields, var, file, report)
    names, names_ok = _cell_names(fields, arrays, var, file, report)
    if not (base_ok and sections_ok and names_ok):
        return None
    return MatpowerCase(
        base_mva=base_mva,
        bus=arrays["bus"],
        gen=arrays["gen"],
        branch=arrays["branch"],
        gencost=arrays.get("gencost"),
        bus_names=names["bus_name"],
        gen_fuels=names["genfuel"],
        name=case_name,
        path=file,
        lines=lines,
    )


# --- conventions and checks ----------------------------------------------------------


def _bus_lookup(bus_num: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique bus numbers and, for each, the row of its first occurrence."""
    uniq, first = np.unique(bus_num, return_index=True)
    return uniq, first


def _rows_of(
    nums: np.ndarray, uniq: np.ndarray, first: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Bus rows of bus numbers ``nums`` and whether each was found."""
    if len(uniq) == 0:
        return np.zeros(len(nums), dtype=np.int64), np.zeros(len(nums), dtype=bool)
    pos = np.clip(np.searchsorted(uniq, nums), 0, len(uniq) - 1)
    found = uniq[pos] == nums
    return first[pos], found


def _report_not_finite(
    report: ProblemReport,
    case: MatpowerCase,
    file: str,
    bus_ids: Sequence[str],
    branch_ids: Sequence[str],
    gen_ids: Sequence[str],
) -> None:
    """NaN, or Inf where no limit is meant, in the columns the grid takes.

    A case parsed from a file was checked when read; this catches a case built
    otherwise (pandapower's conversion divides by a bus's 0 kV or a line's 0 parallel
    systems and hands on inf or NaN).
    """
    if not (math.isfinite(case.base_mva) and case.base_mva > 0):
        report.add(
            f"expected a finite number > 0 [MVA], got {_fmt(case.base_mva)}",
            file=file,
            layer="baseMVA",
            field="baseMVA",
        )
    for layer, arr, ids, finite, not_nan in (
        ("bus", case.bus, bus_ids, (BUS_TYPE, PD, GS), ()),
        ("branch", case.branch, branch_ids, (BR_R, BR_X, BR_B, TAP, SHIFT, BR_STATUS),
         (RATE_A, RATE_C)),
        ("gen", case.gen, gen_ids, (GEN_STATUS,), (PMAX, PMIN)),
    ):  # fmt: skip
        spec = _SECTIONS[layer]
        for j in (*finite, *not_nan):
            bad = np.isnan(arr[:, j]) | (np.isinf(arr[:, j]) & (j in finite))

            def not_finite(i: int, arr: np.ndarray = arr, j: int = j) -> str:
                return f"expected a finite number, got {_fmt(arr[i, j])}"

            _report_rows(
                report,
                np.flatnonzero(bad),
                not_finite,
                file=file,
                layer=layer,
                field=spec.column(j),
                ids=ids,
                lines=case.lines.get(layer),
            )


def _report_status(
    report: ProblemReport,
    arr: np.ndarray,
    j: int,
    col: str,
    file: str,
    layer: str,
    ids: Sequence[str],
    lines: np.ndarray | None,
) -> None:
    """A status column holds 0 or 1 (MATPOWER reads -1 as in service, 0.5 too: ambiguous)."""
    _report_rows(
        report,
        np.flatnonzero(~np.isin(arr[:, j], (0.0, 1.0))),
        lambda i: (
            f"status {_fmt(arr[i, j])} is unknown; expected 1 (in service) or 0 (out of service)"
        ),
        file=file,
        layer=layer,
        field=col,
        ids=ids,
        lines=lines,
    )


def _check_gencost(
    gc: np.ndarray,
    gen_ids: Sequence[str],
    lines: np.ndarray | None,
    report: ProblemReport,
    file: str,
) -> np.ndarray:
    """Check each gencost row's MODEL, NCOST and count of COST values; the rows that pass.

    ``gc`` has one row per generator (reactive power costs cut off).
    """
    ng = len(gc)
    model = gc[:, MODEL]
    ncost = gc[:, NCOST]
    available = (~np.isnan(gc[:, COST:])).sum(axis=1) if gc.shape[1] > COST else np.zeros(ng)
    bad_model = ~np.isin(model, (1.0, 2.0))
    _report_rows(
        report,
        np.flatnonzero(bad_model),
        lambda i: (
            f"unknown cost model {_fmt(model[i])}; expected 1 (piecewise linear) or 2 (polynomial)"
        ),
        file=file,
        layer="gencost",
        field="MODEL",
        ids=gen_ids,
        lines=lines,
    )
    min_n = np.where(model == 1, 2, 0)
    bad_n = ~bad_model & ((ncost != np.round(ncost)) | (ncost < min_n))
    _report_rows(
        report,
        np.flatnonzero(bad_n),
        lambda i: (
            f"NCOST {_fmt(ncost[i])} is not a valid count; expected a whole number "
            + (
                ">= 2 (points of a piecewise-linear cost)"
                if model[i] == 1
                else ">= 0 (coefficients)"
            )
        ),
        file=file,
        layer="gencost",
        field="NCOST",
        ids=gen_ids,
        lines=lines,
    )
    with np.errstate(over="ignore"):
        need = np.where(model == 1, 2 * ncost, ncost)
    short = ~bad_model & ~bad_n & (need > available)
    _report_rows(
        report,
        np.flatnonzero(short),
        lambda i: (
            f"NCOST {_fmt(ncost[i])} needs {_fmt(need[i])} COST values for "
            + (
                "a piecewise-linear cost (model 1: p and cost per point)"
                if model[i] == 1
                else "a polynomial cost (model 2)"
            )
            + f", but the row has {int(available[i])}"
        ),
        file=file,
        layer="gencost",
        field="NCOST",
        ids=gen_ids,
        lines=lines,
    )
    good = ~(bad_model | bad_n | short)
    return good


def _cost_curves(
    gc: np.ndarray, good: np.ndarray, gen_ids: Sequence[str], marginal: np.ndarray
) -> tuple[dict[str, CostCurve], list[int]]:
    """The cost curve of each good gencost row, by gen_id, and the rows whose pwl points
    are not ascending in p [MW].

    ``marginal`` [USD/MWh] is set in place where a curve is linear.
    """
    model = gc[:, MODEL]
    ncost = gc[:, NCOST]
    curves: dict[str, CostCurve] = {}
    not_ascending: list[int] = []
    for i in map(int, np.flatnonzero(good)):
        n = int(ncost[i])
        start, stop = float(gc[i, STARTUP]), float(gc[i, SHUTDOWN])
        if model[i] == 1:
            pts = gc[i, COST : COST + 2 * n].reshape(n, 2)
            dp = np.diff(pts[:, 0])
            if np.any(dp <= 0):
                not_ascending.append(i)
                continue
            curves[gen_ids[i]] = CostCurve(
                "pwl", points=pts.copy(), startup_usd=start, shutdown_usd=stop
            )
            slopes = np.diff(pts[:, 1]) / dp
            if np.allclose(slopes, slopes[0], rtol=1e-9, atol=0.0):
                marginal[i] = slopes[0]
        else:
            coef = tuple(float(c) for c in gc[i, COST : COST + n]) or (0.0,)
            curves[gen_ids[i]] = CostCurve(
                "polynomial", coefficients=coef, startup_usd=start, shutdown_usd=stop
            )
            if all(c == 0.0 for c in coef[:-2]):
                marginal[i] = coef[-2] if len(coef) >= 2 else 0.0
    return curves, not_ascending


def _costs(
    case: MatpowerCase,
    report: ProblemReport,
    file: str,
    gen_ids: Sequence[str],
) -> tuple[dict[str, CostCurve], np.ndarray]:
    """Cost curves by gen_id, and the linear marginal cost (NaN unless the curve is linear)."""
    ng = len(case.gen)
    marginal = np.full(ng, np.nan)
    gc = case.gencost
    if gc is None or ng == 0:
        if ng:
            report.note(f"{file}: no gencost; marginal_cost_usd_per_mwh left empty (NaN)")
        return {}, marginal
    lines = case.lines.get("gencost")
    if len(gc) == 2 * ng:
        report.note(
            f"{file}: gencost has {len(gc)} rows = 2 x {ng} generators; the second half "
            "(reactive power costs) is ignored"
        )
        gc = gc[:ng]
    elif len(gc) != ng:
        report.add(
            f"has {len(gc)} rows; expected one per generator ({ng}), or {2 * ng} with "
            "reactive power costs",
            file=file,
            layer="gencost",
        )
        return {}, marginal
    good = _check_gencost(gc, gen_ids, lines, report, file)
    curves, not_ascending = _cost_curves(gc, good, gen_ids, marginal)
    ncost = gc[:, NCOST]
    _report_rows(
        report,
        not_ascending,
        lambda i: (
            "piecewise-linear cost points must have increasing p [MW]; got p = "
            + ", ".join(_fmt(v) for v in gc[i, COST : COST + 2 * int(ncost[i]) : 2])
        ),
        file=file,
        layer="gencost",
        field="COST",
        ids=gen_ids,
        lines=lines,
    )
    return curves, marginal


@dataclass(frozen=True)
class _CoordinatesSource:
    """Where a bus-coordinates table came from, as its problems name it.

    Attributes
    ----------
    file
        The CSV file (``None`` for a table passed in).
    layer
        ``"bus_coordinates"`` for a table passed in, else ``None``.
    line_word, line_offset
        How a row is named (``CSV line``, ``table row``) and the number of the first row.
    """

    file: str | None
    layer: str | None
    line_word: str
    line_offset: int


@dataclass
class _CoordinateRows:
    """The values of a bus-coordinates table, row by row.

    Attributes
    ----------
    ids, row_ids
        The bus IDs as written (whole numbers without ``.0`` or ``+``; ``""`` where empty),
        and as text for messages.
    xcol, ycol
        The names of the coordinate columns (``x, y`` or ``lon, lat``).
    raw_x, raw_y
        The coordinates as written.
    x, y
        The coordinates [units of the CRS], NaN where not a number.
    lines
        The line (or row) number of each row, for messages.
    """

    ids: np.ndarray
    row_ids: list[str]
    xcol: str
    ycol: str
    raw_x: pd.Series
    raw_y: pd.Series
    x: np.ndarray
    y: np.ndarray
    lines: np.ndarray


def _open_bus_coordinates(
    bus_coordinates: str | os.PathLike[str] | pd.DataFrame, report: ProblemReport
) -> tuple[pd.DataFrame, _CoordinatesSource] | None:
    """The bus-coordinates table (all text, column names stripped) and where it came from;
    ``None`` when the CSV cannot be read (the report says why)."""
    if isinstance(bus_coordinates, pd.DataFrame):
        df = bus_coordinates.reset_index(drop=True).copy()
        file = None
        layer = "bus_coordinates"
        line_word, line_offset = "table row", 1
    else:
        file = str(bus_coordinates)
        layer = None
        line_word, line_offset = "CSV line", 2
        p = Path(bus_coordinates)
        why = path_problem(p, expected="a CSV file of bus coordinates")
        if why is not None:
            report.add(
                "bus coordinates file not found; expected a CSV with columns bus_id and "
                "x,y or lon,lat"
                if why == "file not found"
                else why,
                file=file,
                field="bus_coordinates",
            )
            return None
        try:
            with open_regular(p) as f:
                df = pd.read_csv(f, dtype=str, keep_default_na=False, skipinitialspace=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as e:
            report.add(f"could not be read as CSV ({e})", file=file)
            return None
    df.columns = [str(c).strip() for c in df.columns]
    return df, _CoordinatesSource(file, layer, line_word, line_offset)


def _coordinate_columns(
    df: pd.DataFrame, crs_input: object, report: ProblemReport, where: _CoordinatesSource
) -> tuple[str, str, str, CRS] | None:
    """The bus_id, x and y (or lon and lat) columns and the coordinates' CRS.

    ``None`` when a column is missing, both pairs are given, the CRS is unknown, or
    lon,lat come with a projected CRS (the report says which).
    """
    file, layer = where.file, where.layer
    lower = {c.lower(): c for c in df.columns}
    if "bus_id" not in lower:
        report.add(
            f"no bus_id column; expected columns bus_id and x,y or lon,lat, got "
            f"{', '.join(df.columns) or 'none'}",
            file=file,
            layer=layer,
            field="bus_id",
        )
        return None
    has_xy = "x" in lower and "y" in lower
    has_ll = "lon" in lower and "lat" in lower
    if has_xy == has_ll:
        report.add(
            (
                "both x,y and lon,lat columns; give one pair"
                if has_xy
                else f"no coordinate columns; expected x,y or lon,lat, got {', '.join(df.columns)}"
            ),
            file=file,
            layer=layer,
        )
        return None
    xcol, ycol = (lower["x"], lower["y"]) if has_xy else (lower["lon"], lower["lat"])
    try:
        crs = CRS.from_user_input(crs_input)
    except (CRSError, TypeError) as e:
        report.add(
            f"not a CRS pyproj knows ({e}); expected e.g. 'EPSG:4326'",
            file=file,
            field="coordinates_crs",
        )
        return None
    if has_ll and not crs.is_geographic:
        report.add(
            f"lon,lat columns need a geographic CRS but coordinates_crs is {crs.to_string()}; "
            "name the columns x,y for projected coordinates",
            file=file,
            layer=layer,
            field="coordinates_crs",
        )
        return None
    return lower["bus_id"], xcol, ycol, crs


def _coordinate_rows(
    df: pd.DataFrame, id_col: str, xcol: str, ycol: str, where: _CoordinatesSource
) -> _CoordinateRows:
    """The table's bus IDs and coordinates, parsed (``1.0`` and ``+1`` are bus ``1``)."""
    text = df[id_col].astype(str).str.strip()
    text = text.where(
        ~text.str.fullmatch(r"[+-]?\d+\.0*"), text.str.replace(r"\.0*$", "", regex=True)
    )
    ids = text.str.replace(r"^\+", "", regex=True).to_numpy(dtype=object)
    raw_x = df[xcol].astype(str).str.strip()
    raw_y = df[ycol].astype(str).str.strip()
    x = pd.to_numeric(raw_x, errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(raw_y, errors="coerce").to_numpy(dtype=float)
    lines = np.arange(len(df)) + where.line_offset
    row_ids = [str(i) for i in ids]
    return _CoordinateRows(ids, row_ids, xcol, ycol, raw_x, raw_y, x, y, lines)


def _check_coordinate_values(
    rows: _CoordinateRows, crs: CRS, report: ProblemReport, where: _CoordinatesSource
) -> None:
    """Empty bus IDs, coordinates that are not finite numbers, and (in a geographic CRS)
    latitudes beyond 90 or longitudes beyond 360 degrees."""
    file, layer, line_word = where.file, where.layer, where.line_word
    ids, row_ids, lines = rows.ids, rows.row_ids, rows.lines
    xcol, ycol, raw_x, raw_y, x, y = rows.xcol, rows.ycol, rows.raw_x, rows.raw_y, rows.x, rows.y
    empty = ids == ""
    _report_rows(
        report,
        np.flatnonzero(empty),
        lambda i: "empty bus_id; expected a bus number",
        file=file,
        layer=layer,
        field="bus_id",
        lines=lines,
        line_word=line_word,
    )
    for col, vals, raw in ((xcol, x, raw_x), (ycol, y, raw_y)):

        def not_finite(i: int, raw: pd.Series = raw) -> str:
            return f"expected a finite number, got {raw.iloc[i]!r}"

        _report_rows(
            report,
            np.flatnonzero(~np.isfinite(vals) & ~empty),
            not_finite,
            file=file,
            layer=layer,
            field=col,
            ids=row_ids,
            lines=lines,
            line_word=line_word,
        )
    if crs.is_geographic:
        out = (np.abs(y) > 90) | (np.abs(x) > 360)
        _report_rows(
            report,
            np.flatnonzero(out & np.isfinite(x) & np.isfinite(y)),
            lambda i: (
                f"({_fmt(x[i])}, {_fmt(y[i])}) is not a longitude/latitude in degrees "
                f"({crs.to_string()}); expected |lat| <= 90. Projected coordinates need "
                "coordinates_crs"
            ),
            file=file,
            layer=layer,
            field=ycol,
            ids=row_ids,
            lines=lines,
            line_word=line_word,
        )


def _check_coordinate_ids(
    rows: _CoordinateRows,
    bus_ids: Sequence[str],
    report: ProblemReport,
    where: _CoordinatesSource,
) -> dict[str, int]:
    """Repeated and unknown bus IDs, and buses without a row; the first row of each bus."""
    file, layer, line_word = where.file, where.layer, where.line_word
    ids, row_ids, lines = rows.ids, rows.row_ids, rows.lines
    known = {b: k for k, b in enumerate(bus_ids)}
    first_seen: dict[str, int] = {}
    dup: list[int] = []
    unknown: list[int] = []
    for i, b in enumerate(ids):
        if b == "":
            continue
        if b in first_seen:
            dup.append(i)
        else:
            first_seen[b] = i
        if b not in known:
            unknown.append(i)
    _report_rows(
        report,
        dup,
        lambda i: (
            f"bus {ids[i]} is given again (first on row "
            f"{first_seen[ids[i]] + 1}); expected one row per bus"
        ),
        file=file,
        layer=layer,
        field="bus_id",
        ids=row_ids,
        lines=lines,
        line_word=line_word,
    )
    _report_rows(
        report,
        unknown,
        lambda i: f"bus {ids[i]} is not a bus of the case; expected one of its bus numbers",
        file=file,
        layer=layer,
        field="bus_id",
        ids=row_ids,
        lines=lines,
        line_word=line_word,
    )
    missing = [b for b in bus_ids if b not in first_seen]
    if missing:
        report.add(
            f"{len(missing)} of {len(bus_ids)} buses have no coordinates ({_few(missing)}); "
            "expected a row for every bus",
            file=file,
            layer=layer,
            field="bus_id",
        )
    return first_seen


def read_bus_coordinates(
    bus_coordinates: str | os.PathLike[str] | pd.DataFrame,
    bus_ids: Sequence[str],
    crs: object,
    report: ProblemReport,
) -> tuple[np.ndarray, np.ndarray, CRS] | None:
    """Positions of buses from a CSV file (or a table) of ``bus_id`` and ``x,y`` or ``lon,lat``.

    Parameters
    ----------
    bus_coordinates
        The CSV file, or a table with the same columns.
    bus_ids
        The buses that need a position, in the order wanted.
    crs
        CRS of the coordinates (anything pyproj takes); ``lon,lat`` needs a geographic one.
    report
        Problems (unknown or repeated bus, buses without a row, values that are not
        finite numbers, latitudes beyond 90 degrees) are added here, with the CSV row.

    Returns
    -------
    tuple of (x, y, CRS) or None
        x and y in the order of ``bus_ids``; ``None`` when there is a problem.
    """
    opened = _open_bus_coordinates(bus_coordinates, report)
    if opened is None:
        return None
    df, where = opened
    problems_before = len(report)
    columns = _coordinate_columns(df, crs, report, where)
    if columns is None:
        return None
    id_col, xcol, ycol, pyproj_crs = columns
    rows = _coordinate_rows(df, id_col, xcol, ycol, where)
    _check_coordinate_values(rows, pyproj_crs, report, where)
    first_seen = _check_coordinate_ids(rows, bus_ids, report, where)
    if len(report) > problems_before:
        return None
    order = np.array([first_seen[b] for b in bus_ids], dtype=np.int64)
    return rows.x[order], rows.y[order], pyproj_crs


def _lengths_km(
    xa: np.ndarray, ya: np.ndarray, xb: np.ndarray, yb: np.ndarray, crs: CRS
) -> np.ndarray:
    """Straight-line (projected) or geodesic (geographic) distance between end points [km]."""
    if crs.is_projected:
        factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
        return np.hypot(xb - xa, yb - ya) * factor / 1000.0
    geod = crs.get_geod() or Geod(ellps="WGS84")
    _, _, dist = geod.inv(xa, ya, xb, yb)
    return np.asarray(dist, dtype=float) / 1000.0


@dataclass
class _GridRows:
    """A checked case's IDs and what its rows refer to (between :func:`case_to_grid`'s steps).

    Attributes
    ----------
    bus_ids, branch_ids, gen_ids
        The IDs of the rows of ``bus``, ``branch`` and ``gen``.
    voltage
        Per bus, ``BASE_KV`` [kV], NaN where it is 0.
    f_row, t_row
        Per branch, the bus row of its from and to end.
    br_on
        Per branch, whether it is in service (not at an isolated bus).
    g_row
        Per generator, its bus row.
    """

    bus_ids: list[str]
    voltage: np.ndarray
    branch_ids: list[str]
    f_row: np.ndarray
    t_row: np.ndarray
    br_on: np.ndarray
    gen_ids: list[str]
    g_row: np.ndarray


def _check_buses(
    case: MatpowerCase, report: ProblemReport, file: str
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Check the bus numbers and types; the bus IDs, the bus lookup and the voltages.

    Returns
    -------
    bus_ids, uniq, first, voltage
        The IDs; the sorted unique bus numbers and the row of each (:func:`_bus_lookup`);
        ``BASE_KV`` per bus [kV], NaN where it is 0 (noted).
    """
    bus = case.bus
    nb = len(bus)
    lines = case.lines
    bus_num = bus[:, BUS_I]
    integral = bus_num == np.round(bus_num)
    if case.bus_ids is not None:
        bus_ids = list(case.bus_ids)
    else:
        bus_ids = [str(int(b)) if ok else _fmt(b) for b, ok in zip(bus_num, integral, strict=True)]
    _report_rows(
        report,
        np.flatnonzero(~integral | (bus_num <= 0)),
        lambda i: f"bus number {_fmt(bus_num[i])} is not a whole number > 0",
        file=file,
        layer="bus",
        field="BUS_I",
        ids=bus_ids,
        lines=lines.get("bus"),
    )
    uniq, first = _bus_lookup(bus_num)
    rows, _ = _rows_of(bus_num, uniq, first)
    dup = np.flatnonzero(rows != np.arange(nb))
    _report_rows(
        report,
        dup,
        lambda i: (
            f"bus number {_fmt(bus_num[i])} is already used on row {rows[i] + 1}; "
            "expected unique bus numbers"
        ),
        file=file,
        layer="bus",
        field="BUS_I",
        ids=bus_ids,
        lines=lines.get("bus"),
    )
    bus_type = bus[:, BUS_TYPE]
    _report_rows(
        report,
        np.flatnonzero(~np.isin(bus_type, (1.0, 2.0, 3.0, 4.0))),
        lambda i: (
            f"bus type {_fmt(bus_type[i])} is unknown; expected 1 (PQ), 2 (PV), "
            "3 (reference) or 4 (isolated)"
        ),
        file=file,
        layer="bus",
        field="BUS_TYPE",
        ids=bus_ids,
        lines=lines.get("bus"),
    )
    if nb and not np.any(bus_type == 3):
        report.note(f"{file}: no reference bus (BUS_TYPE 3); the network code picks one")
    voltage = bus[:, BASE_KV].copy()
    no_kv = np.flatnonzero(~(voltage > 0))
    if len(no_kv):
        voltage[no_kv] = np.nan
        report.note(
            f"{file}: {len(no_kv)} buses have BASE_KV 0 ({_few([bus_ids[i] for i in no_kv])}); "
            "their voltage_kv is left empty (NaN)"
        )
    return bus_ids, uniq, first, voltage


def _branch_ends(
    case: MatpowerCase,
    report: ProblemReport,
    file: str,
    branch_ids: Sequence[str],
    uniq: np.ndarray,
    first: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The bus rows of each branch's ends (unknown buses and self-loops are problems).

    Returns
    -------
    f_row, f_ok, t_row, t_ok
        The from and to bus rows, and whether each bus was found.
    """
    branch = case.branch
    br_lines = case.lines.get("branch")
    f_row, f_ok = _rows_of(branch[:, F_BUS], uniq, first)
    t_row, t_ok = _rows_of(branch[:, T_BUS], uniq, first)
    for col, j, ok in (("F_BUS", F_BUS, f_ok), ("T_BUS", T_BUS, t_ok)):

        def not_a_bus(i: int, j: int = j) -> str:
            return (
                f"bus {_fmt(branch[i, j])} is not in the bus table (BUS_I); "
                "expected the number of a bus"
            )

        _report_rows(
            report,
            np.flatnonzero(~ok),
            not_a_bus,
            file=file,
            layer="branch",
            field=col,
            ids=branch_ids,
            lines=br_lines,
        )
    _report_rows(
        report,
        np.flatnonzero(f_ok & t_ok & (f_row == t_row)),
        lambda i: (
            f"branch starts and ends at bus {_fmt(branch[i, F_BUS])}; expected two different buses"
        ),
        file=file,
        layer="branch",
        field="T_BUS",
        ids=branch_ids,
        lines=br_lines,
    )
    return f_row, f_ok, t_row, t_ok


def _branches_in_service(
    case: MatpowerCase,
    report: ProblemReport,
    file: str,
    branch_ids: list[str],
    ends: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:
    """Whether each branch is in service: ``BR_STATUS`` 1 (checked: 0 or 1), not at an
    isolated bus (noted)."""
    branch = case.branch
    br_lines = case.lines.get("branch")
    bus_type = case.bus[:, BUS_TYPE]
    f_row, f_ok, t_row, t_ok = ends
    _report_status(report, branch, BR_STATUS, "BR_STATUS", file, "branch", branch_ids, br_lines)
    br_on = branch[:, BR_STATUS] > 0
    # MATPOWER (ext2int) takes branches at an isolated bus (BUS_TYPE 4) out of service
    isolated = bus_type == 4
    at_isolated = br_on & f_ok & t_ok & (isolated[f_row] | isolated[t_row])
    if at_isolated.any():
        br_on = br_on & ~at_isolated
        report.note(
            f"{file}: {int(at_isolated.sum())} in-service branches end at an isolated bus "
            f"(BUS_TYPE 4; {_few([branch_ids[i] for i in np.flatnonzero(at_isolated)])}): "
            "out of service, as in MATPOWER"
        )
    return br_on


def _check_branch_numbers(
    case: MatpowerCase,
    report: ProblemReport,
    file: str,
    branch_ids: list[str],
    br_on: np.ndarray,
) -> None:
    """Reactance (not 0 in service, ``baseMVA / (BR_X * TAP)`` finite), ratings [MVA] and
    taps not negative; a note on the branches out of service."""
    branch = case.branch
    br_lines = case.lines.get("branch")
    _report_rows(
        report,
        np.flatnonzero(br_on & (branch[:, BR_X] == 0)),
        lambda i: (
            "reactance BR_X is 0 on an in-service branch; expected a non-zero per-unit "
            "reactance (DC power flow divides by it), or BR_STATUS 0"
        ),
        file=file,
        layer="branch",
        field="BR_X",
        ids=branch_ids,
        lines=br_lines,
    )
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        tap_1 = np.where(branch[:, TAP] == 0, 1.0, branch[:, TAP])
        susceptance = case.base_mva / (branch[:, BR_X] * tap_1)  # [MW/rad], as DC flow takes it
        overflow = ~np.isfinite(susceptance * np.deg2rad(branch[:, SHIFT])) | (susceptance == 0)
    _report_rows(
        report,
        np.flatnonzero(
            br_on
            & (branch[:, BR_X] != 0)
            & np.isfinite(branch[:, [BR_X, TAP, SHIFT]]).all(axis=1)
            & overflow
        ),
        lambda i: (
            f"reactance BR_X {_fmt(branch[i, BR_X])} (times TAP {_fmt(branch[i, TAP])}) is out "
            "of range: baseMVA / (BR_X * TAP), or that times SHIFT in radians, is not a finite "
            "non-zero number; expected a per-unit "
            "reactance such as 0.01"
        ),
        file=file,
        layer="branch",
        field="BR_X",
        ids=branch_ids,
        lines=br_lines,
    )
    for col, j in (("RATE_A", RATE_A), ("RATE_C", RATE_C)):

        def negative(i: int, j: int = j) -> str:
            return f"rating {_fmt(branch[i, j])} is negative; expected MVA >= 0 (0 = unlimited)"

        _report_rows(
            report,
            np.flatnonzero(branch[:, j] < 0),
            negative,
            file=file,
            layer="branch",
            field=col,
            ids=branch_ids,
            lines=br_lines,
        )
    _report_rows(
        report,
        np.flatnonzero(branch[:, TAP] < 0),
        lambda i: f"tap ratio {_fmt(branch[i, TAP])} is negative; expected > 0 (or 0 for a line)",
        file=file,
        layer="branch",
        field="TAP",
        ids=branch_ids,
        lines=br_lines,
    )
    n_off = int((branch[:, BR_STATUS] <= 0).sum())
    if n_off:
        report.note(
            f"{file}: {n_off} branches are out of service (BR_STATUS 0; "
            f"{_few([branch_ids[i] for i in np.flatnonzero(branch[:, BR_STATUS] <= 0)])}): kept, "
            "with in_service = False"
        )


def _check_generators(
    case: MatpowerCase,
    report: ProblemReport,
    file: str,
    gen_ids: list[str],
    uniq: np.ndarray,
    first: np.ndarray,
) -> np.ndarray:
    """Check the generators' status, bus and PMIN <= PMAX [MW]; the bus row of each."""
    gen = case.gen
    gen_lines = case.lines.get("gen")
    _report_status(report, gen, GEN_STATUS, "GEN_STATUS", file, "gen", gen_ids, gen_lines)
    g_row, g_ok = _rows_of(gen[:, GEN_BUS], uniq, first)
    _report_rows(
        report,
        np.flatnonzero(~g_ok),
        lambda i: (
            f"bus {_fmt(gen[i, GEN_BUS])} is not in the bus table (BUS_I); expected the "
            "number of a bus"
        ),
        file=file,
        layer="gen",
        field="GEN_BUS",
        ids=gen_ids,
        lines=gen_lines,
    )
    _report_rows(
        report,
        np.flatnonzero(gen[:, PMAX] < gen[:, PMIN]),
        lambda i: (
            f"PMAX {_fmt(gen[i, PMAX])} is below PMIN {_fmt(gen[i, PMIN])}; expected "
            "PMIN <= PMAX [MW]"
        ),
        file=file,
        layer="gen",
        field="PMAX",
        ids=gen_ids,
        lines=gen_lines,
    )
    neg = np.flatnonzero(gen[:, PMAX] < 0)
    if len(neg):
        report.note(
            f"{file}: {len(neg)} generators have PMAX < 0 ({_few([gen_ids[i] for i in neg])}): "
            "MATPOWER's dispatchable loads; kept as they are"
        )
    return g_row


def _grid_tables(
    case: MatpowerCase, rows: _GridRows, marginal: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The grid's bus, branch and generator tables of a checked case (no geometry yet).

    ``marginal`` is each generator's linear cost [USD/MWh] (NaN when not linear).
    """
    bus, gen, branch = case.bus, case.gen, case.branch
    nb, ng, nl = len(bus), len(gen), len(branch)
    bus_type = bus[:, BUS_TYPE]
    bus_ids, branch_ids, gen_ids = rows.bus_ids, rows.branch_ids, rows.gen_ids
    voltage, br_on = rows.voltage, rows.br_on
    f_row, t_row, g_row = rows.f_row, rows.t_row, rows.g_row
    names = list(case.bus_names) if case.bus_names is not None else [""] * nb
    buses = pd.DataFrame(
        {
            "name": names,
            "voltage_kv": voltage,
            "load_mw": bus[:, PD],
            "shunt_mw": bus[:, GS],
            "bus_type": bus_type.astype(np.int64),
            "area": [_fmt(a) for a in bus[:, BUS_AREA]],
            "substation_headroom_mw": np.full(nb, np.nan),
            "substation_upgrade_added_mw": np.full(nb, np.nan),
            "substation_upgrade_cost_usd": np.full(nb, np.nan),
            "substation_upgrade_lead_time_years": np.full(nb, np.nan),
        },
        index=pd.Index(bus_ids, name="bus_id", dtype=object),
    )
    tap = branch[:, TAP]
    rate_a, rate_c = branch[:, RATE_A], branch[:, RATE_C]
    branches = pd.DataFrame(
        {
            "from_bus": [bus_ids[i] for i in f_row],
            "to_bus": [bus_ids[i] for i in t_row],
            "x_pu": branch[:, BR_X],
            "r_pu": branch[:, BR_R],
            "b_pu": branch[:, BR_B],
            "rating_mw": np.where(rate_a == 0, np.inf, rate_a),
            "rating_emergency_mw": np.where(rate_c == 0, np.inf, rate_c),
            "tap_ratio": np.where(tap == 0, 1.0, tap),
            "shift_deg": branch[:, SHIFT],
            "in_service": br_on,
            "length_km": np.full(nl, np.nan),
            "voltage_kv": voltage[f_row] if nl else np.zeros(0),
            "upgrade_added_mw": np.full(nl, np.nan),
            "upgrade_cost_usd": np.full(nl, np.nan),
            "upgrade_lead_time_years": np.full(nl, np.nan),
        },
        index=pd.Index(branch_ids, name="branch_id", dtype=object),
    )
    fuels = list(case.gen_fuels) if case.gen_fuels is not None else [""] * ng
    generators = pd.DataFrame(
        {
            "bus_id": [bus_ids[i] for i in g_row],
            "p_max_mw": gen[:, PMAX],
            "p_min_mw": gen[:, PMIN],
            "marginal_cost_usd_per_mwh": marginal,
            "co2_t_per_mwh": np.zeros(ng),
            "fuel": fuels,
            "in_service": gen[:, GEN_STATUS] > 0,
        },
        index=pd.Index(gen_ids, name="gen_id", dtype=object),
    )
    return buses, branches, generators


def _grid_geometry(
    buses: pd.DataFrame,
    branches: pd.DataFrame,
    rows: _GridRows,
    coords: tuple[np.ndarray, np.ndarray, CRS] | None,
) -> tuple[gpd.GeoSeries, gpd.GeoSeries]:
    """Bus points and straight branch lines from ``coords`` (x, y, CRS), or empty geometries.

    With coordinates, ``branches.length_km`` is set (in place) to the lines' lengths [km].
    """
    nb, nl = len(buses), len(branches)
    f_row, t_row = rows.f_row, rows.t_row
    if coords is not None:
        x, y, crs = coords
        points = shapely.points(x, y)
        bus_geom = gpd.GeoSeries(points, index=buses.index, crs=crs)
        seg = np.stack(
            [np.stack([x[f_row], y[f_row]], axis=1), np.stack([x[t_row], y[t_row]], axis=1)],
            axis=1,
        ).reshape(nl, 2, 2)
        br_geom = gpd.GeoSeries(
            shapely.linestrings(seg) if nl else [], index=branches.index, crs=crs
        )
        branches["length_km"] = _lengths_km(x[f_row], y[f_row], x[t_row], y[t_row], crs)
    else:
        bus_geom = gpd.GeoSeries([None] * nb, index=buses.index, crs=None)
        br_geom = gpd.GeoSeries([None] * nl, index=branches.index, crs=None)
    return bus_geom, br_geom


def case_to_grid(
    case: MatpowerCase,
    report: ProblemReport,
    *,
    source: str,
    bus_coordinates: str | os.PathLike[str] | pd.DataFrame | None = None,
    coordinates_crs: object = "EPSG:4326",
) -> Grid | None:
    """Apply MATPOWER's conventions to a parsed case and check it.

    Parameters
    ----------
    case
        From :func:`parse_matpower` (or built from another source, e.g. pandapower).
    report
        Problems and notes are added here.
    source
        What the grid was read from (a path), kept in ``Grid.source``.
    bus_coordinates
        Optional bus positions: a CSV file (or a table) with ``bus_id`` and either
        ``x,y`` or ``lon,lat``. Without it the grid has empty geometries.
    coordinates_crs
        CRS of the coordinates (anything pyproj takes) [default EPSG:4326].

    Returns
    -------
    Grid or None
        ``None`` when a problem was found (branch or generator at an unknown bus,
        duplicate bus number, zero reactance on an in-service branch, or one so small
        that ``baseMVA / (BR_X * TAP)`` overflows, a status other than 0 or 1, NaN or
        Inf in a case not read from a file (pandapower's), PMAX < PMIN, bad gencost,
        bad coordinates ...); the report names each.

    Notes
    -----
    ``rating_emergency_mw`` is MATPOWER's ``RATE_C`` (``inf`` where 0).
    ``marginal_cost_usd_per_mwh`` is the linear coefficient of a polynomial whose
    higher coefficients are all 0 (or the common slope of piecewise-linear points on
    one straight line, to 1e-9 relative); otherwise NaN. With coordinates, branches
    are straight lines between their buses and ``length_km`` is their length: planar
    in a projected CRS, on the CRS's ellipsoid (pyproj ``Geod``) in a geographic one.
    """
    problems_before = len(report)
    file = case.path or source
    nl, ng = len(case.branch), len(case.gen)
    bus_ids, uniq, first, voltage = _check_buses(case, report, file)
    branch_ids = (
        list(case.branch_ids) if case.branch_ids is not None else [str(i + 1) for i in range(nl)]
    )
    ends = _branch_ends(case, report, file, branch_ids, uniq, first)
    br_on = _branches_in_service(case, report, file, branch_ids, ends)
    _check_branch_numbers(case, report, file, branch_ids, br_on)
    gen_ids = list(case.gen_ids) if case.gen_ids is not None else [str(i + 1) for i in range(ng)]
    g_row = _check_generators(case, report, file, gen_ids, uniq, first)
    _report_not_finite(report, case, file, bus_ids, branch_ids, gen_ids)
    costs, marginal = _costs(case, report, file, gen_ids)
    coords = None
    if bus_coordinates is not None:
        coords = read_bus_coordinates(bus_coordinates, bus_ids, coordinates_crs, report)
    if len(report) > problems_before:
        return None
    f_row, _, t_row, _ = ends
    rows = _GridRows(bus_ids, voltage, branch_ids, f_row, t_row, br_on, gen_ids, g_row)
    buses, branches, generators = _grid_tables(case, rows, marginal)
    bus_geom, br_geom = _grid_geometry(buses, branches, rows, coords)
    return Grid(
        buses=gpd.GeoDataFrame(buses, geometry=bus_geom),
        branches=gpd.GeoDataFrame(branches, geometry=br_geom),
        generators=generators,
        costs=costs,
        base_mva=float(case.base_mva),
        source=source,
        source_format="matpower",
    )


def read_matpower(
    path: str | os.PathLike[str],
    report: ProblemReport,
    *,
    bus_coordinates: str | os.PathLike[str] | pd.DataFrame | None = None,
    coordinates_crs: object = "EPSG:4326",
) -> Grid | None:
    """Read a MATPOWER version-2 case file into a :class:`Grid`.

    Parameters
    ----------
    path
        The ``.m`` case file.
    report
        Problems and notes are added here (see :func:`parse_matpower` and
        :func:`case_to_grid`).
    bus_coordinates
        Optional CSV with ``bus_id`` (the MATPOWER bus number) and ``x,y`` or ``lon,lat``.
    coordinates_crs
        CRS of those coordinates [default EPSG:4326, longitude/latitude in degrees].

    Returns
    -------
    Grid or None
        ``source_format = "matpower"``; ``None`` when the case has a problem.
    """
    case = parse_matpower(path, report)
    if case is None:
        return None
    return case_to_grid(
        case,
        report,
        source=str(path),
        bus_coordinates=bus_coordinates,
        coordinates_crs=coordinates_crs,
    )
