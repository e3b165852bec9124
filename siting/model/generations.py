"""Accelerator generations: the table the compute family reads (no Pyomo here, so the plan's
verification may read it too).

The shipped table ``siting/data/accelerators.csv`` holds one row per generation; a scenario
may name its own (``compute.generations_csv``). :func:`load_generations` reads either and
refuses a bad row with the file, the row, the column and what was expected.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from siting.core.errors import InputError, Problem, ProblemReport
from siting.core.files import read_text_csv

#: The generation table shipped with siting.
SHIPPED_GENERATIONS = Path(__file__).resolve().parent.parent / "data" / "accelerators.csv"

#: Numeric columns of the table: (name, lowest value, whether the lowest is allowed, unit).
NUMERIC_COLUMNS: tuple[tuple[str, float, bool, str], ...] = (
    ("first_year", 1990.0, True, "calendar year"),
    ("kw_per_accelerator", 0.0, False, "kW IT per accelerator"),
    ("accelerators_per_rack", 1.0, True, "accelerators per rack"),
    ("rack_kw", 0.0, False, "kW per rack"),
    ("compute_per_accelerator", 0.0, False, "compute units per accelerator, H100 = 1"),
    ("service_life_years", 1.0, True, "years"),
    ("capex_usd_per_accelerator", 0.0, True, "USD per accelerator"),
    ("tokens_per_s_per_accelerator", 0.0, True, "tokens/s per accelerator"),
)
#: Every column of the table, in order.
COLUMNS = (
    "generation",
    *(c for c, *_ in NUMERIC_COLUMNS[:4]),
    "needs_liquid",
    *(c for c, *_ in NUMERIC_COLUMNS[4:]),
    "source",
)
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


def _read(path: Path, layer: str) -> pd.DataFrame:
    """The CSV at ``path`` as text, or an :class:`InputError` naming the file."""
    raw = read_text_csv(path, layer, COLUMNS)
    if not len(raw):
        raise InputError(
            Problem("no generations; expected at least one row", file=str(path), layer=layer)
        )
    return raw


def _said(expected: str, text: pd.Series) -> Callable[[int], str]:
    """A row's message: what was ``expected`` and the row's ``text``."""
    return lambda i: f"{expected}, got {text.iloc[i]!r}"


def load_generations(path: str | Path | None = None) -> pd.DataFrame:
    """Read and validate an accelerator generation table.

    Parameters
    ----------
    path
        CSV with the columns of :data:`COLUMNS` (``None``: the shipped
        :data:`SHIPPED_GENERATIONS`).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``generation`` (str): ``first_year`` (int) [calendar year],
        ``kw_per_accelerator`` [kW IT, incl. its share of server, network and storage],
        ``accelerators_per_rack`` (int), ``rack_kw`` [kW/rack], ``needs_liquid`` (bool:
        direct liquid cooling required), ``compute_per_accelerator`` [compute units, H100 =
        1], ``service_life_years`` [years], ``capex_usd_per_accelerator`` [USD],
        ``tokens_per_s_per_accelerator`` [tokens/s] and ``source`` (text).

    Raises
    ------
    siting.core.errors.InputError
        Naming the file, the row (1-based data row; the header is line 1), the column and
        what was expected, for every missing, non-numeric, out-of-range or repeated value.
    """
    file = Path(path) if path is not None else SHIPPED_GENERATIONS
    layer = "compute.generations_csv"
    raw = _read(file, layer)
    report = ProblemReport()
    names = raw["generation"].str.strip()

    def add(mask: Any, col: str, message: Callable[[int], str]) -> None:
        report.add_rows(
            np.flatnonzero(np.asarray(mask, dtype=bool)),
            lambda i: f"(line {i + 2}) " + message(i),
            file=file,
            layer=layer,
            field=col,
            ids=names.tolist(),
        )

    add(names == "", "generation", lambda i: "empty name; expected a generation name")
    add(
        names.duplicated(keep="first") & (names != ""),
        "generation",
        lambda i: f"generation {names.iloc[i]!r} is listed twice; expected each once",
    )
    out = pd.DataFrame(index=pd.Index(names, name="generation"))
    for col, low, inclusive, unit in NUMERIC_COLUMNS:
        text = raw[col].str.strip()
        num = pd.to_numeric(text, errors="coerce")
        finite = num.notna() & np.isfinite(num.fillna(0.0))
        above = (num >= low) if inclusive else (num > low)
        sign = ">=" if inclusive else ">"
        add(
            ~(finite & above), col, _said(f"expected a finite number {sign} {low:g} [{unit}]", text)
        )
        out[col] = num.to_numpy(dtype=float)
    for col in ("first_year", "accelerators_per_rack"):
        whole = (out[col] % 1 == 0).to_numpy() | out[col].isna().to_numpy()
        add(~whole, col, _said("expected a whole number", raw[col]))
    liquid = raw["needs_liquid"].str.strip().str.lower()
    add(
        ~liquid.isin(_TRUE | _FALSE),
        "needs_liquid",
        lambda i: f"expected true or false, got {raw['needs_liquid'].iloc[i]!r}",
    )
    report.raise_if_any(what="accelerator generations")
    out["first_year"] = out["first_year"].astype(int)
    out["accelerators_per_rack"] = out["accelerators_per_rack"].astype(int)
    out.insert(4, "needs_liquid", liquid.isin(_TRUE).to_numpy())
    out["source"] = raw["source"].str.strip().to_numpy()
    return out
