"""One table cell as a Python number, where pandas' type stubs cannot say it is one.

pandas-stubs types a single cell (``df.at[r, c]``, ``df.loc[r, c]``, an attribute of an
``itertuples`` row, a group key) as any scalar pandas can hold: a string, a date, ``None``,
a number, ... So ``float(df.at[r, "rating_mw"])`` does not type-check, though the column
is a number column that siting built or read and checked. These helpers are ``float()``
and ``int()`` on such a cell: the same conversion at run time (a NaN stays NaN; a value
that is not a number raises ``TypeError`` or ``ValueError`` as ``float()`` does), typed
for the type checker. Use them only on cells of columns known to hold numbers.
"""

from __future__ import annotations

from typing import SupportsFloat, SupportsInt, cast

__all__ = ["as_float", "as_int"]


def as_float(v: object) -> float:
    """``float(v)`` of a table cell known to hold a number (NaN stays NaN).

    Parameters
    ----------
    v
        The cell: a float, an int, a numpy number or a bool (a number column's value).

    Raises
    ------
    TypeError, ValueError
        As ``float(v)`` does: ``v`` is not a number.
    """
    # pandas-stubs types a cell as any scalar; the caller knows the column holds numbers
    return float(cast(SupportsFloat, v))


def as_int(v: object) -> int:
    """``int(v)`` of a table cell known to hold a whole number (a year, a position).

    Parameters
    ----------
    v
        The cell: an int, a numpy integer, or a float holding a whole number.

    Raises
    ------
    TypeError, ValueError
        As ``int(v)`` does: ``v`` is not a number (or is NaN).
    """
    # pandas-stubs types a cell (and a group key, an iterrows index) as any scalar or any
    # hashable; the caller knows it holds a whole number
    return int(cast(SupportsInt, v))
