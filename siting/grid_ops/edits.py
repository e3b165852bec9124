"""Branch derates and outages on a bare grid case (``--derate`` / ``--outage``).

``siting grid dispatch`` and ``siting grid hosting`` take ``--derate BRANCH=FACTOR`` and
``--outage BRANCH`` with the meaning they have in ``siting grid stress``: a derate multiplies
the branch's normal and emergency ratings (``rating_mw``, ``rating_emergency_mw``) by the
factor (> 0; 0.8 = 80 %); an outage takes the branch out of service. On a scenario they are
merged into ``grid.derate`` / ``grid.outages`` (:func:`siting.grid_ops.stress.stressed_scenario`:
factors multiply with the scenario's own); on a bare case (a grid file without a scenario)
:func:`edit_grid` applies them to the grid read from the file.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from siting.core.errors import InputError, Problem
from siting.inputs.grids.grid import Grid

__all__ = ["edit_grid"]


def edit_grid(
    grid: Grid,
    derate: Mapping[str, float] | None = None,
    outages: Iterable[str] | None = None,
    *,
    source: str | None = None,
) -> list[str]:
    """Derate branches and take branches out of a bare case's grid (in place).

    Parameters
    ----------
    grid
        The grid as read from the case file.
    derate
        Branch ID -> factor on its normal and emergency ratings [-] (> 0; 0.8 = 80 %).
    outages
        Branch IDs taken out of service.
    source
        The case file (for the problems).

    Returns
    -------
    list[str]
        One note per edit (the ratings before and after [MW], or the outage).

    Raises
    ------
    siting.core.errors.InputError
        A branch ID that is not a branch of the grid (naming ``--derate`` or ``--outage``
        and the file), or a factor that is not a number > 0.
    """
    br = grid.branches
    known = set(br.index.astype(str))
    derates = {str(k): v for k, v in (derate or {}).items()}
    outs = list(dict.fromkeys(str(o) for o in outages or []))
    problems: list[Problem] = []
    examples = ", ".join(sorted(known)[:5])
    for opt, ids in (("--derate", list(derates)), ("--outage", outs)):
        problems += [
            Problem(
                f"branch '{b}' is not a branch of the grid; expected an ID such as {examples}",
                file=source,
                layer="branches",
                id=b,
                field=opt,
            )
            for b in ids
            if b not in known
        ]
    for b, factor in derates.items():
        f = float(factor)
        if not math.isfinite(f) or f <= 0:
            problems.append(
                Problem(
                    f"expected a factor > 0 (0.8 = 80 % of the ratings), got {factor!r}",
                    file=source,
                    id=b,
                    field="--derate",
                )
            )
    if problems:
        raise InputError(problems)
    index = {str(i): i for i in br.index}
    notes: list[str] = []
    for b, factor in derates.items():
        row = index[b]
        before = float(br.at[row, "rating_mw"])
        for col in ("rating_mw", "rating_emergency_mw"):
            if col in br.columns:
                br.loc[row, col] = float(br.at[row, col]) * float(factor)
        notes.append(
            f"branch {b} derated to {float(factor):g} x its ratings (--derate): rating "
            f"{before:,.1f} -> {float(br.at[row, 'rating_mw']):,.1f} MW"
        )
    for b in outs:
        br.loc[index[b], "in_service"] = False
        notes.append(f"branch {b} out of service (--outage)")
    return notes
