"""The ``siting`` command line.

Short, clear errors by default; the traceback only with ``--debug`` (after
Calliope's CLI). Exit codes: 0 success (for ``plan``: a verified plan was written,
also one not proven optimal when the time limit stopped the solver, which the output
says with its gap), 1 invalid input (the report says what and where), 2 an infeasible
scenario (the explanation says which requirements cannot be met; also a usage error of
the command line), 3 an internal error (a bug: please report it), 4 no plan found
within the time limit, 5 solver trouble (numerical trouble, an unbounded or rejected
model: no usable plan), 6 the output folder is being written by another run (its PID is
named), 130 interrupted (Ctrl-C; the message says what was kept). With 2, 4, 5, 6 and
130 nothing is written and a previous plan in the output folder is kept whole. An output
siting will not write (a folder it did not make, a file, an input's folder: "output
refused") and a write that fails (no space left, a read-only file system, a busy mount
point, no permission: "write failed") are exit 1 too, and keep the previous output whole.
"""

from __future__ import annotations

from typing import Annotated

import typer

from siting.cli import (
    export,
    grid_check,
    grid_dispatch,
    grid_hosting,
    grid_stress,
    map,
    pareto,
    plan,
    robustness,
    sweep,
    twostage,
)
from siting.cli.common import out
from siting.core.version import __version__

app = typer.Typer(
    name="siting",
    help="Plan where and when to build AI campuses, from grid, water, cooling and land layers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

grid_app = typer.Typer(
    name="grid",
    help="Grid operators' questions: DC dispatch, hosting capacity per bus, N-1.",
    no_args_is_help=True,
)


def _version_callback(value: bool) -> None:
    if value:
        out.print(f"siting {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Plan where and when to build AI campuses."""


def _register() -> None:
    """Every command, named here (the modules only define them)."""
    app.callback()(_root)
    for fn in (plan.validate, plan.schema, plan.fields, plan.plan, plan.candidates):
        app.command()(fn)
    app.command("map")(map.map_command)
    app.command("sweep")(sweep.sweep_command)
    app.command("robustness")(robustness.robustness_command)
    app.command("pareto")(pareto.pareto_command)
    app.command("export")(export.export_command)
    app.command("twostage")(twostage.twostage_command)
    grid_app.command("dispatch")(grid_dispatch.dispatch)
    grid_app.command("hosting")(grid_hosting.hosting)
    grid_app.command("check")(grid_check.check)
    grid_app.command("stress")(grid_stress.stress_command)
    app.add_typer(grid_app, name="grid")


_register()


def main() -> None:
    """Entry point of the ``siting`` console script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
