"""Errors and the problem report that every reader fills.

A reader never stops at the first problem: it adds a :class:`Problem` to a
:class:`ProblemReport` and goes on, so that one run shows everything wrong with the
inputs. Each problem names the file, the layer, the row or ID and the field, and
says what was expected. When reading is done, :meth:`ProblemReport.raise_if_any`
raises one :class:`InputError` that lists them all.

The hierarchy follows rasterio's ``errors.py``: one root, :class:`SitingError`;
input problems are also ``ValueError`` so that generic callers can catch them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

#: Most rows named one by one for one kind of problem before "... and N more rows".
MAX_ROWS_NAMED = 10


def is_missing(v: object) -> bool:
    """True for None, NaN, NaT or pandas' NA (a missing scalar value)."""
    import pandas as pd

    try:
        return bool(pd.isna(cast(Any, v)))
    except (TypeError, ValueError):  # array-likes are not a missing scalar
        return False


def printable(text: str, keep: str = "") -> str:
    """``text`` with each non-printable character shown as its escape (``\\x1b``).

    Inputs name files, keys and IDs; shown raw, a control code in one (an ANSI escape, a
    bidirectional override, NUL) would drive the terminal the problem is printed on.

    Parameters
    ----------
    text
        The text.
    keep
        Non-printable characters to keep as they are (``"\\n"`` for messages).
    """
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() or c in keep else c.encode("unicode_escape").decode("ascii")
        for c in text
    )


class SitingError(Exception):
    """Root of every error this package raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input.

    Parameters
    ----------
    message
        What is wrong and what was expected, in words (``"expected a number >= 0,
        got -5"``).
    file
        The file the problem is in (as the user gave it, or resolved), if any.
    layer
        The layer (GeoPackage layer, MATPOWER section, scenario section) if any.
    row
        The 1-based row (feature) number in the layer, if the problem is in a row.
    id
        The row's ID (``bus_id``, ``branch_id`` ...) where one could be read.
    field
        The column, attribute or scenario key (full dotted path for scenarios).
    """

    message: str
    file: str | Path | None = None
    layer: str | None = None
    row: int | None = None
    id: str | None = None
    field: str | None = None

    def where(self) -> str:
        """The location part of the message: ``file, layer 'x', row 3 (id 'B7'), field 'x_pu'``."""
        parts: list[str] = []
        if self.file:
            parts.append(printable(str(self.file)))
        if self.layer:
            parts.append(f"layer '{printable(self.layer)}'")
        ident = None if self.id is None else printable(self.id)
        if self.row is not None and ident is not None:
            parts.append(f"row {self.row} (id '{ident}')")
        elif self.row is not None:
            parts.append(f"row {self.row}")
        elif ident is not None:
            parts.append(f"id '{ident}'")
        if self.field:
            parts.append(f"field '{printable(self.field)}'")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        message = printable(self.message, keep="\n")
        return f"{where}: {message}" if where else message


@dataclass
class ProblemReport:
    """Collects problems from every reader; raise them together at the end.

    Notes
    -----
    ``notes`` holds informational lines (a CRS chosen automatically, a default
    applied) that a summary prints but that are not errors.
    """

    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        layer: str | None = None,
        row: int | None = None,
        id: object = None,
        field: str | None = None,
    ) -> None:
        """Record one problem (see :class:`Problem` for the parameters)."""
        self.problems.append(
            Problem(
                message=message,
                file=str(file) if file is not None else None,
                layer=layer,
                row=row,
                id=None if id is None else str(id),
                field=field,
            )
        )

    def add_rows(
        self,
        rows: Iterable[int],
        message: str | Callable[[int], str],
        *,
        file: str | Path | None = None,
        layer: str | None = None,
        field: str | None = None,
        ids: Sequence[object] | None = None,
        limit: int | None = None,
    ) -> None:
        """One problem per bad row for the first ``limit`` rows, then one that counts the rest.

        Parameters
        ----------
        rows
            0-based positions of the bad rows (reported 1-based).
        message
            The message, or a function of the 0-based row giving it.
        ids
            The layer's IDs by position, to name each row's ID.
        limit
            Most rows named one by one (default :data:`MAX_ROWS_NAMED`).
        """
        rows = [int(i) for i in rows]
        limit = MAX_ROWS_NAMED if limit is None else limit
        for i in rows[:limit]:
            text = message(i) if callable(message) else message
            ident = ids[i] if ids is not None and i < len(ids) else None
            if ident is not None and is_missing(ident):
                ident = None
            self.add(text, file=file, layer=layer, row=i + 1, id=ident, field=field)
        if len(rows) > limit:
            self.add(
                f"... and {len(rows) - limit} more rows with the same problem",
                file=file,
                layer=layer,
                field=field,
            )

    def note(self, text: str) -> None:
        """Record an informational note (not a problem)."""
        self.notes.append(text)

    def extend(self, problems: Iterable[Problem]) -> None:
        """Add problems found elsewhere."""
        self.problems.extend(problems)

    def __len__(self) -> int:
        return len(self.problems)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.problems)

    def __bool__(self) -> bool:  # a report is truthy when it holds problems
        return bool(self.problems)

    def raise_if_any(self, what: str = "inputs") -> None:
        """Raise :class:`InputError` listing every problem, if there is one."""
        if self.problems:
            raise InputError(list(self.problems), what=what)


class InputError(SitingError, ValueError):
    """One or more inputs are wrong; ``problems`` lists each, with its location."""

    def __init__(self, problems: list[Problem] | Problem | str, what: str = "inputs") -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = problems
        self.what = what
        n = len(problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the {what}:"
        body = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{head}\n{body}")


class ScenarioError(InputError):
    """The scenario file is wrong (unknown key, wrong type, bad value, missing file)."""

    def __init__(self, problems: list[Problem] | Problem | str, what: str = "scenario") -> None:
        super().__init__(problems, what=what)


class MissingDependencyError(SitingError, ImportError):
    """An optional package needed for this input is not installed (the message says which)."""
