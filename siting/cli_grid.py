"""``siting grid ...``: commands for grid operators (dispatch, hosting capacity, ...).

Each command lives in its own module and registers itself on :data:`grid_app`; the
modules are imported at the bottom of this file.
"""

from __future__ import annotations

import typer

grid_app = typer.Typer(
    name="grid",
    help="Grid operators' questions: DC dispatch, hosting capacity per bus, N-1.",
    no_args_is_help=True,
)

from siting import (  # noqa: E402,F401  (register commands)
    cli_grid_check,
    cli_grid_dispatch,
    cli_grid_hosting,
    cli_grid_stress,
)
