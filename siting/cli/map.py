"""``siting map PLAN_DIR``: re-render a saved plan's map (``index.html``) and report."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from siting.cli.common import DebugOpt, JsonOpt, TilesOpt, guard, out
from siting.core.errors import InputError


def map_command(
    plan_dir: Annotated[Path, typer.Argument(help="A plan folder written by `siting plan`.")],
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Write the map here (default: PLAN_DIR/index.html)."),
    ] = None,
    tiles: TilesOpt = True,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Re-render the map (index.html) and the report (report.html) from a saved plan folder."""

    def run() -> dict[str, str]:
        from siting.core.files import require_reachable
        from siting.core.io import check_output_file
        from siting.render.maps import render_map

        require_reachable(plan_dir, out_file)
        if not plan_dir.is_dir() or not (plan_dir / "plan.gpkg").is_file():
            raise InputError(
                f"{plan_dir}: not a plan folder (no plan.gpkg); write one with `siting plan`"
            )
        if out_file is not None:  # never over what the map is made from
            pages = {"index.html", "report.html"}
            read = [p for p in plan_dir.iterdir() if p.is_file() and p.name not in pages]
            check_output_file(out_file, inputs=read)
        written = {"map": str(render_map(plan_dir, out_file, tiles=tiles))}
        try:
            from siting.render.report import render_report
        except ImportError:  # pragma: no cover  (the report module is optional)
            pass
        else:
            written["report"] = str(render_report(plan_dir))
        return written

    written = guard(debug, run)
    if as_json:
        sys.stdout.write(json.dumps(written, indent=2) + "\n")
    else:
        for kind, path in written.items():
            out.print(f"  wrote {kind}: {escape(path)}")
