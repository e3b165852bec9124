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
  ``--plan-repeat`` times (default 3: one run is about a minute);
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
- ``map 20,000 candidates``: :func:`siting.maps.render_map` on the synthetic plan folder of
  :mod:`benchmarks.map_instance` (the measured part), then the page's size (``size_mb``; the
  issue asks under 10 MB) and its load time in headless chromium, offline, to the map's
  ready flag (``load_s``, median of 5 loads; under 3 s asked); needs /usr/bin/chromium and
  the playwright package.

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
    "print(json.dumps({{'extra': extra}}))\n"
    "sched = {{f'{{r.site_id}} (bus {{r.bus_id}})': {{}} for r in p.schedule.itertuples()}}\n"
    "for r in p.schedule.itertuples():\n"
    "    sched[f'{{r.site_id}} (bus {{r.bus_id}})'][str(r.year)] = float(r.it_mw)\n"
    "print(json.dumps({{'info': {{'objective_usd': p.solve.objective, 'bound_usd': p.solve.bound, "
    "'mip_gap': mf['solver']['mip_gap'], 'status': p.solve.status, 'schedule': sched}}}}))\n"
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
        "from siting.scenario import load_scenario\n"
        "from siting.layers import load_layers\n"
        "from siting.summary import summarise\n"
        "t0 = time.perf_counter()\n"
        f"s = load_scenario({str(REPO / 'models' / 'demo.yaml')!r})\n"
        "summarise(load_layers(s), s)\n"
        "t1 = time.perf_counter()\n"
    ),
    "read case300 (siting)": (
        "from siting.errors import ProblemReport\n"
        "from siting.layers.matpower import read_matpower\n"
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
        "    from siting.scenario import load_scenario\n"
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
        "from siting.maps import render_map\n"
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
}


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
        res["extra"] = {k: statistics.median(e[k] for e in extras) for k in extras[0]}
    if infos:
        res["info"] = infos
    return res


def _num(key: str, v: float) -> str:
    """``key value``: whole numbers (counts, sizes) in full, others to 4 digits."""
    return f"{key} {v:.0f}" if float(v).is_integer() and abs(v) < 1e9 else f"{key} {v:.4g}"


def _schedule_text(sched: dict[str, dict[str, float]]) -> str:
    """``S022 (bus 119) 200/300/500`` per site, MW IT by planning year ('-': none yet)."""
    years = sorted({y for by in sched.values() for y in by})
    return "; ".join(
        f"{site} " + "/".join(f"{by[y]:g}" if by.get(y) else "-" for y in years)
        for site, by in sorted(sched.items())
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
        objs = {round(r["objective_usd"], 2) for r in runs}
        plans = {json.dumps(r["schedule"], sort_keys=True) for r in runs}
        if len(objs) > 1 or len(plans) > 1:
            out.append(
                f"  note: {nm} gave {len(objs)} objectives, {len(plans)} plans over its runs"
            )
    ra, rb = ia[0], ib[0]
    oa, ob = ra["objective_usd"], rb["objective_usd"]
    la, lb = ra["bound_usd"], rb["bound_usd"]
    gap = max(ra["mip_gap"], rb["mip_gap"])
    # each [bound, objective] holds the optimum, so the two must overlap
    lo, hi = max(la, lb), min(oa, ob)
    agree = lo <= hi + 1e-9 * max(abs(oa), abs(ob))
    diff = abs(oa - ob) / max(abs(oa), abs(ob), 1.0)
    out.append(
        f"objectives: {name_a} {oa:,.0f} USD (bound {la:,.0f}), {name_b} {ob:,.0f} USD "
        f"(bound {lb:,.0f}); differ by {diff:.3%}; "
        + (
            f"AGREE within the {gap:.2%} MIP gap (bound/objective intervals overlap)"
            if agree
            else f"DISAGREE: {name_b if ob > oa else name_a}'s objective is below the other's bound"
        )
    )
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
    args = ap.parse_args()
    for name, form in (
        ("plan case300 (angle)", "angle"),
        ("plan case300 (ptdf, lazy limits)", "ptdf"),
    ):
        JOBS[name] = _CASE300_PLAN.format(form=form, gap=args.case300_mip_gap)
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
        n = args.plan_repeat if name.startswith("plan ") else args.repeat
        print(f"running {name} ({n} runs) ...", file=sys.stderr, flush=True)
        try:
            rows[name] = measure(code, n)
        except JobFailed as e:
            print(f"FAILED {name}: {e}", file=sys.stderr)
    print(
        f"| job | median s | min s | peak RSS MB |   "
        f"(repeat {args.repeat}; plans {args.plan_repeat})"
    )
    print("| --- | --- | --- | --- |")
    load1 = os.getloadavg()
    for name, r in rows.items():
        print(f"| {name} | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['peak_rss_mb']:.0f} |")
    for name, r in rows.items():
        if "extra" in r:
            print(f"\n{name}, medians: " + ", ".join(_num(k, v) for k, v in r["extra"].items()))
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
    a, b = (
        rows.get("read case300 (siting)"),
        rows.get("read case300 (pandapower from_mpc, baseline)"),
    )
    if a and b:
        print(f"\nratio siting / pandapower on case300: {a['median_s'] / b['median_s']:.2f}")


if __name__ == "__main__":
    main()
