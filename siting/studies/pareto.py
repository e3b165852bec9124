"""Trade-off fronts: least cost against campus water, CO2 or grid upgrade spend.

``siting pareto SCENARIO --between cost,water`` (or ``cost,co2``, ``cost,grid_upgrades``)
traces the front by the epsilon-constraint method, every piece on the distributed engine
(:mod:`siting.core.engine`):

1. two anchors, solved side by side: the least-cost plan (the scenario as it is; the metric
   at its largest useful value ``f_max``) and the least metric (the same model minimising
   the metric instead of cost; ``f_min``, not a plan);
2. ``points - 1`` caps from ``f_min`` to ``f_max`` (evenly spaced, ``f_max`` excluded: the
   least-cost plan stands for it), each an ordinary scenario with that cap set
   (``water.cap_m3_per_day``, ``policy.co2_cap_t`` or ``grid.upgrade_budget_usd``) and
   planned at least cost;
3. the front: ``front.csv`` (one row per point: cap, cost, metric, status, gap, sites, its
   plan folder), ``front.svg`` (the plot), ``front.html`` (plot, table and a link to each
   point's report and map), ``front.json``.

The points are a sweep (:mod:`siting.studies.sweep`) written as ``points.yaml`` in the front's
folder, so each point is a plan one can open (``points/<key>/plan/``), and a rerun (or a
resumed interrupted run) skips the points and the anchor already finished.

Metrics (:mod:`siting.model.metrics`): ``water`` = campus water in its largest year
[m3/day]; ``co2`` = CO2 the campuses add to the grid's emissions over the planning horizon
[t CO2] (a cap can be met by siting near clean generation and by redispatching the grid,
whose extra cost is counted in the plan's energy cost); ``grid_upgrades`` = upgrade spend,
present value [USD].

A point another point beats on both cost and the metric (within the MIP gap's slack) is
marked ``dominated``: with a MIP gap, a capped plan may cost a little more than a less
capped one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

from siting.core.cells import as_float, as_int
from siting.core.errors import InputError, is_missing
from siting.core.io import OutputOwner, claim_folder, write_text_atomic
from siting.model.data import replaced
from siting.model.metrics import METRIC_KEYS, METRICS
from siting.model.state import model_state

if TYPE_CHECKING:
    from dask.distributed import Client

    from siting.config.scenario import Scenario
    from siting.studies.sweep import SweepResult

#: The scenario field each metric's cap sets.
CAP_KEYS = {
    "water": "water.cap_m3_per_day",
    "co2": "policy.co2_cap_t",
    "grid_upgrades": "grid.upgrade_budget_usd",
}
#: Unit each metric is handed to the solver in (keeps the objective near 1e3..1e5).
SOLVER_UNIT = {"water": 1e3, "co2": 1e3, "grid_upgrades": 1e6}
#: Default number of points on a front (the least-cost plan included).
DEFAULT_POINTS = 6
#: Most points on one front.
MAX_POINTS = 100
#: Relative slack on the least-metric cap so the anchor's own solution stays feasible.
CAP_SLACK = 1e-6
#: Absolute MIP gap of the least-metric anchor [SOLVER_UNIT]: 1 m3/day, 1 t CO2 or 1,000 USD.
#: (Its optimum is often 0, where a relative gap can never be met.)
ANCHOR_ABS_GAP = 1e-3
#: File of the least-metric anchor in a front's folder.
ANCHOR_FILE = "anchor.json"


@dataclass
class Front:
    """A trade-off front.

    Attributes
    ----------
    metric
        ``water``, ``co2`` or ``grid_upgrades``.
    unit
        The metric's unit (``m3/day``, ``t CO2``, ``USD``).
    table
        One row per point, loosest cap first: ``point, name, cap, total_cost_usd, <metric>,
        status, gap, sites_chosen, it_mw_final, plan_dir, key, error, dominated,
        extra_cost_usd`` (over the least-cost plan) and ``marginal_usd_per_unit`` (the step
        from the point before: extra cost over metric saved [USD per m3/day, per t CO2, or
        per USD of upgrades]).
    out
        The front's folder.
    anchor
        The least-metric solve (``value``, ``status``, ``gap``, ``time_s``).
    notes
        What a reader should know (a flat front, failed points ...).
    """

    metric: str
    unit: str
    table: pd.DataFrame
    out: Path
    anchor: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        rows = json.loads(self.table.to_json(orient="records"))
        return {
            "metric": self.metric,
            "unit": self.unit,
            "out": str(self.out),
            "anchor": self.anchor,
            "points": rows,
            "notes": self.notes,
        }


def parse_between(text: str) -> str:
    """``cost,water`` -> ``water`` (the metric traded against cost).

    Raises
    ------
    siting.core.errors.InputError
        Unless ``text`` is ``cost,<metric>`` (or ``<metric>,cost``) with a known metric.
    """
    parts = [p.strip().lower() for p in text.split(",") if p.strip()]
    if len(parts) == 2 and "cost" in parts:
        other = parts[1] if parts[0] == "cost" else parts[0]
        if other in METRICS:
            return other
    raise InputError(
        f"--between {text!r}: expected 'cost,<metric>' with <metric> one of "
        f"{', '.join(METRICS)} (e.g. --between cost,water)"
    )


def min_metric(
    scenario_file: str,
    metric: str,
    *,
    threads: int = 1,
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
) -> dict[str, Any]:
    """The least value of a metric any plan of the scenario can reach (runs on a worker).

    The scenario's model (in the angle form: every line limit in it) with the metric as its
    objective instead of cost, to the scenario's relative MIP gap or an absolute gap of
    :data:`ANCHOR_ABS_GAP`. ``value`` is the metric of the solution found.

    Returns
    -------
    dict
        ``metric``, ``value`` (the metric of the solution found) [metric unit], ``status``,
        ``gap``, ``time_s``.

    Raises
    ------
    siting.core.errors.SitingError
        When no plan exists (the message says why) or none was found in time.
    """
    import time

    import pyomo.environ as pyo

    from siting.config.scenario import load_scenario
    from siting.core.errors import SitingError
    from siting.model import build_model
    from siting.model.metrics import metric_expression
    from siting.pipeline import prepare, solve_model

    t0 = time.perf_counter()
    sc = load_scenario(scenario_file)
    sc.solver.threads = threads
    prep = prepare(sc)
    # every line limit in the model: without cost in the objective the dispatch is arbitrary,
    # and lazily added limits would take round after round to pin its flows down
    d = replaced(prep.data, grid={"formulation": "angle"})
    m = build_model(d, baseline_usd=prep.baseline_usd, baseline_co2_t=prep.baseline_co2_t)
    e = metric_expression(m, metric)
    unit = SOLVER_UNIT[metric]
    m.obj.deactivate()
    m.metric_obj = pyo.Objective(expr=e / unit, sense=pyo.minimize)
    model_state(m).objective_unit = unit
    model_state(m).mip_abs_gap = ANCHOR_ABS_GAP
    r = solve_model(
        m,
        d,
        solver=sc.solver.name,
        time_limit_s=time_limit_s if time_limit_s is not None else sc.solver.time_limit_s,
        mip_gap=mip_gap if mip_gap is not None else sc.solver.mip_gap,
        threads=threads,
    )
    if not r.has_solution:
        raise SitingError(
            f"no plan of '{sc.name}' found while minimising {metric} ({r.status}: "
            f"{r.termination}); plan the scenario itself to see why"
        )
    return {
        "metric": metric,
        "value": float(pyo.value(e)),
        "status": r.status,
        "gap": r.gap,
        "time_s": round(time.perf_counter() - t0, 3),
    }


def _sweep_name(scenario_name: str, metric: str) -> str:
    tail = f"-{metric.replace('_', '')}"
    return scenario_name[: 75 - len(tail)] + tail


def _write_points_file(
    path: Path, name: str, base: Path, metric: str, caps: list[float | None], threads: int
) -> None:
    doc = {
        "name": name,
        "base": str(base),
        "out": "points",
        "solver_threads": threads,
        "vary": [{"zip": {CAP_KEYS[metric]: caps}}],
    }
    head = (
        f"# Points of the cost/{metric} front of {base.name}, written by `siting pareto`.\n"
        f"# Each is the scenario with {CAP_KEYS[metric]} set (null: no cap, the least-cost "
        "plan).\n"
    )
    write_text_atomic(path, head + yaml.safe_dump(doc, sort_keys=False))


def _caps(f_min: float, f_max: float, points: int) -> list[float]:
    """``points - 1`` caps from ``f_min`` (with a hair of slack) up to, not including, f_max."""
    lo = f_min + CAP_SLACK * max(1.0, abs(f_min))
    if points < 2 or f_max <= lo:
        return []
    vals = np.linspace(lo, f_max, points)[:-1]
    return [float(f"{v:.9g}") for v in vals[::-1]]  # loosest cap first


def pareto(
    scenario_file: str | Path,
    metric: str,
    *,
    points: int = DEFAULT_POINTS,
    out: str | Path | None = None,
    scheduler: str | None = None,
    workers: int = 2,
    threads: int = 1,
    progress: Callable[[str], None] | None = None,
    client: Client | None = None,
    tiles: bool = True,
) -> Front:
    """Trace the cost/metric front of a scenario (see the module docstring).

    Parameters
    ----------
    scenario_file
        The scenario YAML file.
    metric
        ``water``, ``co2`` or ``grid_upgrades``.
    points
        Points on the front, the least-cost plan included (2 to :data:`MAX_POINTS`).
    out
        The front's folder; default ``maps/<scenario name>-pareto-<metric>/``.
    scheduler, workers
        The distributed engine (:func:`siting.core.engine.dask_client`).
    client
        A ``dask.distributed.Client`` to use instead (``scheduler``, ``workers`` ignored).
    threads
        Solver threads per point.
    progress
        Called with a line of text at each stage.
    tiles
        Offer OpenStreetMap tiles on the points' maps as a base the reader can switch on
        (no request until then; the default base is drawn offline).

    Returns
    -------
    Front
        Also written to ``out`` (``front.csv``, ``front.svg``, ``front.html``, ``front.json``).

    Raises
    ------
    siting.core.errors.InputError
        Bad arguments or a scenario that cannot have this front (e.g. CO2 without a grid).
    siting.core.errors.SitingError
        When the least-cost plan or the least-metric anchor has no solution.
    siting.core.io.OutputRefusedError
        ``out`` is not empty and not this front's folder (a folder siting did not make, a
        siting folder of another scenario or kind, a file, or a folder holding an input).
    """
    from siting.config.scenario import load_scenario
    from siting.core.engine import dask_client
    from siting.inputs import input_files
    from siting.studies.sweep import scenario_key

    say = progress or (lambda _s: None)
    if metric not in METRICS:
        raise InputError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
    if not 2 <= points <= MAX_POINTS:
        raise InputError(f"points must be between 2 and {MAX_POINTS}, got {points}")
    scenario_file = Path(scenario_file).resolve()
    sc = load_scenario(scenario_file)
    _check_scenario(sc, scenario_file, metric)
    dest = Path(out) if out is not None else Path("maps") / f"{sc.name}-pareto-{metric}"
    dest = claim_folder(dest, OutputOwner(f"pareto-{metric}", sc.name), inputs=input_files(sc))
    run = _FrontRun(
        scenario_file=scenario_file,
        metric=metric,
        dest=dest,
        name=_sweep_name(sc.name, metric),
        points_file=dest / "points.yaml",
        key=scenario_key(sc),
        threads=threads,
        say=say,
        tiles=tiles,
    )

    with dask_client(scheduler, workers, client=client) as client:
        anchor, f_min, f_max = _anchors(run, client)
        swept = _capped_points(run, client, f_min, f_max, points)

    front = _collect(swept, metric, dest, anchor, f_min, f_max)
    write_front(front)
    return front


def _check_scenario(sc: Scenario, scenario_file: Path, metric: str) -> None:
    """Refuse a scenario that cannot have a cost/``metric`` front.

    Raises
    ------
    siting.core.errors.InputError
        CO2 without the grid model, an objective other than least cost, water without
        ``water.enabled``, or the metric's cap already set in the scenario.
    """
    if metric == "co2" and (sc.layers.grid is None or not sc.grid.enabled):
        raise InputError(
            f"{scenario_file}: a cost/co2 front needs the grid model (layers.grid and "
            "grid.enabled); campus CO2 comes from the generators' dispatch"
        )
    if sc.objective.sense != "min_cost":
        raise InputError(
            f"{scenario_file}: a trade-off front needs objective.sense min_cost (the front "
            f"is least cost against {metric}), not {sc.objective.sense}"
        )
    if metric == "water" and not sc.water.enabled:
        raise InputError(f"{scenario_file}: a cost/water front needs water.enabled: true")
    base_cap = {
        "water": sc.water.cap_m3_per_day,
        "co2": sc.policy.co2_cap_t,
        "grid_upgrades": sc.grid.upgrade_budget_usd,
    }[metric]
    if base_cap is not None:
        raise InputError(
            f"{scenario_file}: {CAP_KEYS[metric]} is already set ({base_cap:g}); the front "
            "sets it point by point, so remove it from the scenario"
        )


@dataclass
class _FrontRun:
    """What the steps of :func:`pareto` share.

    Attributes
    ----------
    scenario_file
        The scenario YAML file (resolved).
    metric
        ``water``, ``co2`` or ``grid_upgrades``.
    dest
        The front's folder (claimed).
    name
        The name of the points' sweep.
    points_file
        The points' sweep file (``dest / "points.yaml"``).
    key
        The scenario's key (:func:`siting.studies.sweep.scenario_key`): a finished anchor
        of another key is solved again.
    threads
        Solver threads per point.
    say
        Called with a line of text at each stage.
    tiles
        Offer web tiles on the points' maps (:func:`siting.studies.sweep.run_sweep`).
    """

    scenario_file: Path
    metric: str
    dest: Path
    name: str
    points_file: Path
    key: str
    threads: int
    say: Callable[[str], None]
    tiles: bool = True


def _anchors(run: _FrontRun, client: Client) -> tuple[dict[str, Any], float, float]:
    """The two anchors, side by side: the least-cost plan (a sweep of one point) and the
    least metric (one task on ``client``), unless a previous run finished it.

    Returns
    -------
    tuple
        The least-metric anchor (as in ``anchor.json``), ``f_min`` (its metric) and
        ``f_max`` (the least-cost plan's) [metric unit].

    Raises
    ------
    siting.core.errors.InputError
        When the least-cost plan failed.
    """
    from siting.studies.sweep import run_sweep

    metric = run.metric
    anchor = _read_anchor(run.dest, run.key, metric)
    fut = None
    if anchor is None:
        run.say(f"anchor: least {metric}")
        fut = client.submit(
            min_metric, str(run.scenario_file), metric, threads=run.threads, pure=False
        )
    run.say("anchor: least cost")
    _write_points_file(run.points_file, run.name, run.scenario_file, metric, [None], run.threads)
    first = run_sweep(run.points_file, client=client, robustness=False, tiles=run.tiles)
    row = first.rows[0]
    if row["status"] not in ("optimal", "feasible"):
        raise InputError(
            f"the least-cost plan of {run.scenario_file} failed ({row['status']}): "
            f"{row['error']}; plan it with `siting plan` to see why"
        )
    f_max = _metric_of(first.out / row["key"], metric)
    if anchor is None:
        assert fut is not None
        anchor = fut.result()
        anchor["scenario_key"] = run.key
        write_text_atomic(run.dest / ANCHOR_FILE, json.dumps(anchor, indent=2) + "\n")
    f_min = float(anchor["value"])
    return anchor, f_min, f_max


def _capped_points(
    run: _FrontRun, client: Client, f_min: float, f_max: float, points: int
) -> SweepResult:
    """The ``points - 1`` capped points between ``f_min`` and ``f_max`` [metric unit], with
    the least-cost plan, planned as one sweep on ``client``."""
    from siting.studies.sweep import run_sweep

    caps = _caps(f_min, f_max, points)
    run.say(
        f"{len(caps)} capped point(s) between {f_min:,.6g} and {f_max:,.6g} {METRICS[run.metric]}"
    )
    _write_points_file(
        run.points_file, run.name, run.scenario_file, run.metric, [None, *caps], run.threads
    )
    return run_sweep(run.points_file, client=client, tiles=run.tiles)


def _read_anchor(dest: Path, key: str, metric: str) -> dict[str, Any] | None:
    p = dest / ANCHOR_FILE
    if not p.is_file():
        return None
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if doc.get("scenario_key") != key or doc.get("metric") != metric:
        return None  # another scenario or inputs since: solve it again
    return doc


def _metric_of(scenario_dir: Path, metric: str) -> float:
    doc = json.loads((scenario_dir / "result.json").read_text(encoding="utf-8"))
    value = (doc.get("metrics") or {}).get(METRIC_KEYS[metric])
    if value is None:
        raise InputError(f"{scenario_dir}/result.json has no metric {METRIC_KEYS[metric]!r}")
    return float(value)


def _collect(
    swept: SweepResult, metric: str, dest: Path, anchor: dict, f_min: float, f_max: float
) -> Front:
    rows = []
    notes: list[str] = []
    cap_key = CAP_KEYS[metric]
    for i, r in enumerate(swept.rows):
        d = swept.out / r["key"]
        doc = {}
        if (d / "result.json").is_file() and (d / "done.json").is_file():
            doc = json.loads((d / "result.json").read_text(encoding="utf-8"))
        cap = r.get(cap_key)
        rows.append(
            {
                "point": i,
                "name": r["name"],
                "cap": None if cap in ("", None) else float(cap),
                "total_cost_usd": doc.get("total_cost_usd"),
                metric: (doc.get("metrics") or {}).get(METRIC_KEYS[metric]),
                "status": r["status"],
                "gap": doc.get("gap"),
                "sites_chosen": doc.get("sites_chosen"),
                "it_mw_final": doc.get("it_mw_final"),
                "plan_dir": doc.get("plan_dir", ""),
                "key": r["key"],
                "error": r.get("error", ""),
            }
        )
    table = pd.DataFrame(rows)
    table["dominated"] = _dominated(table, metric)
    cost = pd.to_numeric(table["total_cost_usd"], errors="coerce")
    table["extra_cost_usd"] = cost - cost.iloc[0]
    # what the last step along the front cost per unit of the metric saved
    val = pd.to_numeric(table[metric], errors="coerce")
    saved = val.shift(1) - val
    table["marginal_usd_per_unit"] = np.where(
        saved > 1e-9 * np.maximum(1.0, val.abs()), (cost - cost.shift(1)) / saved, np.nan
    )
    bad = table[~table["status"].isin(["optimal", "feasible"])]
    if len(bad):
        notes.append(
            f"{len(bad)} point(s) without a plan: "
            + "; ".join(f"{r.name} ({r.status})" for r in bad.itertuples())
        )
    if f_max - f_min <= CAP_SLACK * max(1.0, abs(f_min)):
        notes.append(
            f"the least-cost plan already has the least {metric} ({f_min:,.6g} "
            f"{METRICS[metric]}): there is no trade-off to trace, the front is one point"
        )
    if table["dominated"].any():
        notes.append(
            f"{int(table['dominated'].sum())} point(s) dominated by another (a MIP gap lets a "
            "capped plan cost a little more than needed); they are kept and marked"
        )
    return Front(metric, METRICS[metric], table, dest, anchor, notes)


def _dominated(table: pd.DataFrame, metric: str) -> list[bool]:
    """Whether another point is no worse on both axes and better on one (beyond 1e-9)."""
    ok = table["status"].isin(["optimal", "feasible"]).to_numpy()
    c = pd.to_numeric(table["total_cost_usd"], errors="coerce").to_numpy(dtype=float)
    f = pd.to_numeric(table[metric], errors="coerce").to_numpy(dtype=float)
    out = []
    for i in range(len(table)):
        if not ok[i]:
            out.append(False)
            continue
        tc, tf = 1e-9 * max(1.0, abs(c[i])), 1e-9 * max(1.0, abs(f[i]))
        beaten = any(
            ok[j]
            and j != i
            and c[j] <= c[i] + tc
            and f[j] <= f[i] + tf
            and (c[j] < c[i] - tc or f[j] < f[i] - tf)
            for j in range(len(table))
        )
        out.append(bool(beaten))
    return out


# --------------------------------------------------------------------------- outputs

AXIS = {
    "water": ("Campus water in its largest year", "m3/day", 1.0),
    "co2": ("CO2 the campuses add over the planning years", "kt CO2", 1e3),
    "grid_upgrades": ("Grid upgrade spend (present value)", "M USD", 1e6),
}
#: The metric in words, and the unit of its marginal cost.
METRIC_WORDS = {
    "water": ("water", "USD per m3/day"),
    "co2": ("CO2", "USD/t CO2"),
    "grid_upgrades": ("grid upgrades", "USD per USD"),
}


def svg_front(front: Front) -> str:
    """The front as an inline SVG: metric across, net present cost up, one dot per point."""
    from siting.render.html import nice_ticks, svg, svg_text, tick_label

    label, unit, scale = AXIS[front.metric]
    t = front.table
    ok = t["status"].isin(["optimal", "feasible"]) & t["total_cost_usd"].notna()
    x = pd.to_numeric(t.loc[ok, front.metric], errors="coerce").to_numpy(float) / scale
    y = pd.to_numeric(t.loc[ok, "total_cost_usd"], errors="coerce").to_numpy(float) / 1e9
    dom = t.loc[ok, "dominated"].to_numpy(bool)
    names = t.loc[ok, "point"].to_numpy()
    w, h, left, right, top, bottom = 640.0, 380.0, 78.0, 24.0, 34.0, 58.0
    body: list[str] = []
    if not len(x):
        body.append(svg_text(w / 2, h / 2, "no point has a plan", anchor="middle"))
        return svg("front", f"Cost against {label}", w, h, body)
    xt = nice_ticks(float(np.min(x)), float(np.max(x)) if np.ptp(x) > 0 else float(x[0]) + 1)
    yt = nice_ticks(float(np.min(y)), float(np.max(y)) if np.ptp(y) > 0 else float(y[0]) + 1)

    def px(v: float) -> float:
        return left + (v - xt[0]) / (xt[-1] - xt[0]) * (w - left - right)

    def py(v: float) -> float:
        return h - bottom - (v - yt[0]) / (yt[-1] - yt[0]) * (h - top - bottom)

    for v in xt:
        body.append(
            f'<line x1="{px(v):.1f}" y1="{top:.1f}" x2="{px(v):.1f}" y2="{h - bottom:.1f}" '
            'stroke="#e5e5e5"/>'
        )
        body.append(svg_text(px(v), h - bottom + 16, tick_label(v), anchor="middle"))
    for v in yt:
        body.append(
            f'<line x1="{left:.1f}" y1="{py(v):.1f}" x2="{w - right:.1f}" y2="{py(v):.1f}" '
            'stroke="#e5e5e5"/>'
        )
        body.append(svg_text(left - 6, py(v) + 4, tick_label(v), anchor="end"))
    body.append(svg_text((left + w - right) / 2, h - 14, f"{label} [{unit}]", anchor="middle"))
    body.append(
        f'<text x="16" y="{(top + h - bottom) / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 16 {(top + h - bottom) / 2:.1f})">Net present cost [bn USD]'
        "</text>"
    )
    order = np.argsort(x)
    keep = [i for i in order if not dom[i]]
    if len(keep) > 1:
        pts = " ".join(f"{px(x[i]):.1f},{py(y[i]):.1f}" for i in keep)
        body.append(f'<polyline points="{pts}" fill="none" stroke="#0072B2" stroke-width="2"/>')
    for i in range(len(x)):
        fill = "#ffffff" if dom[i] else "#0072B2"
        body.append(
            f'<circle class="point" data-point="{int(names[i])}" cx="{px(x[i]):.1f}" '
            f'cy="{py(y[i]):.1f}" r="5" fill="{fill}" stroke="#0072B2" stroke-width="2">'
            f"<title>point {int(names[i])}: {x[i]:,.4g} {unit}, {y[i]:,.4g} bn USD"
            f"{' (dominated)' if dom[i] else ''}</title></circle>"
        )
        body.append(
            svg_text(px(x[i]) + 7, py(y[i]) - 7, str(int(names[i])), extra='font-size="11"')
        )
    body.append(
        svg_text(
            left, 20, f"Least cost against {in_running_text(label)}", extra='font-weight="bold"'
        )
    )
    return svg("front", f"Cost against {label}", w, h, body)


def in_running_text(label: str) -> str:
    """A label in running text: lower case but for CO2."""
    return label[0].lower() + label[1:] if not label.startswith("CO2") else label


def front_html(front: Front) -> str:
    """A self-contained page: the plot, the table and links to each point's plan."""
    import os

    from siting.render.html import esc
    from siting.render.report import CSS

    label, unit, scale = AXIS[front.metric]
    words, per = METRIC_WORDS[front.metric]
    rows = []
    for r in front.table.itertuples(index=False):
        val = getattr(r, front.metric)
        link = ""
        if r.plan_dir:
            href = _href(os.path.relpath(str(r.plan_dir), front.out))
            link = (
                f'<a href="{esc(href)}/report.html">report</a> · '
                f'<a href="{esc(href)}/index.html">map</a>'
            )
        cap = "none (least cost)" if is_missing(r.cap) else table_number(as_float(r.cap) / scale)
        marginal = (
            ""
            if is_missing(r.marginal_usd_per_unit)
            else table_number(as_float(r.marginal_usd_per_unit))
        )
        extra = "" if is_missing(r.extra_cost_usd) else f"{as_float(r.extra_cost_usd) / 1e6:,.1f}"
        total = "" if is_missing(r.total_cost_usd) else f"{as_float(r.total_cost_usd) / 1e6:,.1f}"
        rows.append(
            "<tr>"
            f'<td class="n">{r.point}</td><td class="n">{esc(cap)}</td>'
            f'<td class="n">{"" if is_missing(val) else table_number(as_float(val) / scale)}</td>'
            f'<td class="n">{total}</td><td class="n">{extra}</td><td class="n">{marginal}</td>'
            f"<td>{esc(r.status)}{' (dominated)' if r.dominated else ''}</td>"
            f'<td class="n">{"" if is_missing(r.gap) else f"{as_float(r.gap):.2%}"}</td>'
            f'<td class="n">{"" if is_missing(r.sites_chosen) else as_int(r.sites_chosen)}</td>'
            f"<td>{link}</td></tr>"
        )
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in front.notes)
    a = front.anchor
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Cost against {esc(words)}</title><style>{CSS}</style></head><body><main>"
        f"<h1>Least cost against {esc(in_running_text(label))}</h1>"
        '<p class="sub">An epsilon-constraint front: each point is the least-cost plan with '
        f"{esc(in_running_text(label))} capped at its value; the leftmost is the least "
        f"{esc(words)} any plan reaches ({table_number(float(a['value']) / scale)} {esc(unit)}, "
        f"{esc(a.get('status'))}), the rightmost the least-cost plan. The marginal cost is "
        f"what each step cost per unit of {esc(words)} saved ({esc(per)}).</p>"
        f"{svg_front(front)}{notes}"
        '<div class="tw"><table><thead><tr><th class="n">point</th>'
        f'<th class="n">cap [{esc(unit)}]</th><th class="n">{esc(words)} [{esc(unit)}]</th>'
        '<th class="n">net present cost [M USD]</th><th class="n">extra [M USD]</th>'
        f'<th class="n">marginal [{esc(per)}]</th><th>status</th><th class="n">gap</th>'
        '<th class="n">sites</th><th>plan</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table></div></main></body></html>\n"
    )


def _href(rel: str) -> str:
    """A relative file path as a relative URL: each part percent-encoded, so a folder named
    ``javascript:...`` (or holding ``#``, ``?``, ``%``, quotes) is a path, never a scheme,
    a fragment or a query."""
    from urllib.parse import quote

    parts = Path(rel).as_posix().split("/")
    return "/".join(quote(p, safe="") for p in parts)


def table_number(v: float) -> str:
    """A figure for a table: 4 significant digits; 0 below 1e-3 (the slack on the least cap)."""
    if abs(v) < 1e-3:
        return "0"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.4g}"


def write_front(front: Front) -> None:
    """Write ``front.csv``, ``front.json``, ``front.svg`` and ``front.html`` (each atomically)."""
    d = front.out
    write_text_atomic(d / "front.csv", front.table.to_csv(index=False, float_format="%.10g"))
    write_text_atomic(d / "front.json", json.dumps(front.as_dict(), indent=2, default=str) + "\n")
    write_text_atomic(d / "front.svg", svg_front(front) + "\n")
    write_text_atomic(d / "front.html", front_html(front))
