"""What every command shares: the consoles, the options, the exit codes, and
:func:`guard`, which runs a command and turns known errors into a message and an exit code
(the codes are listed in :mod:`siting.cli`)."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from siting.core.errors import InputError, SitingError

# not a terminal (pipes, CI logs): 100 columns rather than rich's 80, so tables stay whole
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 100)
err = Console(stderr=True, highlight=False, soft_wrap=True)

T = TypeVar("T")

DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the full traceback on errors.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable result on stdout.")]
TilesOpt = Annotated[
    bool,
    typer.Option(
        "--tiles/--no-tiles",
        help="Offer OpenStreetMap tiles on the maps as a base the reader can switch on (no "
        "request until then; the maps open on a base drawn offline from the layers). "
        "--no-tiles leaves the web tiles out.",
    ),
]
TimeLimitOpt = Annotated[
    float | None,
    typer.Option(
        "--time-limit",
        help="Wall-clock limit of the whole run up to the plan, in seconds: loading, the "
        "grid baseline, building and every solve round share it; verifying and writing "
        "come after (default: the scenario's solver.time_limit_s).",
        min=0.001,
    ),
]
QuietOpt = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="No stage lines nor progress on stderr (errors still are)."),
]
MipGapOpt = Annotated[
    float | None,
    typer.Option(
        "--mip-gap", help="Relative MIP gap, a fraction (default: the scenario's).", min=0.0
    ),
]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Replace an output folder siting wrote for another scenario or kind (never a "
        "folder siting did not make, a file or an input's folder).",
    ),
]

SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Address of an existing Dask scheduler (tcp://host:8786); default: a local cluster.",
    ),
]
WorkersOpt = Annotated[
    int, typer.Option("--workers", min=1, help="Worker processes of the local Dask cluster.")
]

SCENARIO_SUFFIXES = {".yaml", ".yml"}
CASE_SUFFIXES = {".m", ".json", ".gpkg", ".geojson"}

EXIT_INVALID = 1
EXIT_INFEASIBLE = 2
EXIT_INTERNAL = 3
EXIT_NO_PLAN_IN_TIME = 4
EXIT_SOLVER_TROUBLE = 5
EXIT_LOCKED = 6
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT); SIGTERM: 143 (siting.core.interrupt)


#: What Ctrl-C leaves behind, by default (a single run writes nothing until it is done).
INTERRUPTED = "interrupted; nothing was written"
#: ... and for the commands that keep each finished task (sweeps, fronts).
INTERRUPTED_KEPT = (
    "interrupted; every scenario finished so far is kept (its done.json); run the same "
    "command again to finish the rest"
)


def guard(
    debug: bool, fn: Callable[[], T], interrupted: str = INTERRUPTED, hard_stop: bool = True
) -> T:
    """Run ``fn``; turn known errors into a clear message and an exit code.

    SIGINT and SIGTERM interrupt ``fn`` (:func:`siting.core.interrupt.stop_on_signals`; with
    ``hard_stop``, a watchdog ends the process if it has not stopped within seconds);
    ``interrupted`` is the message when the interrupt carries none of its own.
    """
    from siting.core.interrupt import exit_code, stop_on_signals

    def describe(signal_name: str) -> str:
        running = sys.modules.get("siting.pipeline")
        if running is not None and running._RUNNING:
            return running.interrupted_message(signal_name)
        return interrupted

    try:
        with stop_on_signals(describe, lambda msg: err.print(escape(msg)), hard_stop=hard_stop):
            return fn()
    except InputError as e:
        if debug:
            traceback.print_exc()
        err.print(escape(str(e)), markup=True)
        raise typer.Exit(EXIT_INVALID) from None
    except _infeasible_error() as e:
        if debug:
            traceback.print_exc()
        err.print(f"[bold red]infeasible[/bold red]: {escape(str(e))}")
        raise typer.Exit(EXIT_INFEASIBLE) from None
    except SitingError as e:
        if debug:
            traceback.print_exc()
        code, head = _siting_error_kind(e)
        err.print(f"{head}: {escape(str(e))}")
        raise typer.Exit(code) from None
    except KeyboardInterrupt as e:  # a message of its own says what was kept (siting plan)
        from siting.core.interrupt import Terminated
        from siting.solve.highs import highs_still_running

        text = str(e)
        if not text or type(e) is Terminated:  # no message of its own: the command's
            text = interrupted
            if exit_code(e) != EXIT_INTERRUPTED:
                text = text.replace("interrupted", "terminated (SIGTERM)", 1)
        err.print(escape(text))
        if highs_still_running():  # a HiGHS solve was cut short: do not shut down around it
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(exit_code(e))
        raise typer.Exit(exit_code(e)) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as e:  # a bug: say so plainly
        if debug:
            traceback.print_exc()
        else:
            err.print(
                f"internal error: {type(e).__name__}: {escape(str(e))}\n"
                "This is a bug in siting; run again with --debug for the traceback and report it."
            )
        raise typer.Exit(EXIT_INTERNAL) from None


def _siting_error_kind(e: SitingError) -> tuple[int, str]:
    """Exit code and message head of an error that is not bad input nor infeasibility."""
    from siting.core.io import OutputLockedError, OutputRefusedError, OutputWriteError
    from siting.solve.highs import NoPlanInTimeError, SolverTroubleError

    if isinstance(e, NoPlanInTimeError):
        return EXIT_NO_PLAN_IN_TIME, "[bold red]no plan in time[/bold red]"
    if isinstance(e, SolverTroubleError):
        return EXIT_SOLVER_TROUBLE, "[bold red]solver trouble[/bold red]"
    if isinstance(e, OutputLockedError):
        return EXIT_LOCKED, "[bold red]output folder busy[/bold red]"
    if isinstance(e, OutputRefusedError):
        return EXIT_INVALID, "[bold red]output refused[/bold red]"
    if isinstance(e, OutputWriteError):
        return EXIT_INVALID, "[bold red]write failed[/bold red]"
    return EXIT_INVALID, "error"


def _infeasible_error() -> type[Exception]:
    from siting.pipeline import InfeasibleError

    return InfeasibleError
