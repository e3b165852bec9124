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
  ``--plan-repeat`` times (default 3: one run is about a minute).
"""

from __future__ import annotations

import argparse
import json
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
}


def measure(code: str, repeat: int) -> dict[str, float]:
    """Median seconds and median peak RSS [MB] of ``code`` over ``repeat`` fresh processes."""
    secs, rss, extras = [], [], []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", _PRELUDE + code + _EPILOGUE],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        lines = out.stdout.strip().splitlines()
        r = json.loads(lines[-1])
        secs.append(r["s"])
        rss.append(r["rss_mb"])
        for line in lines[:-1]:
            if line.startswith('{"extra"'):
                extras.append(json.loads(line)["extra"])
    res = {
        "median_s": statistics.median(secs),
        "min_s": min(secs),
        "peak_rss_mb": statistics.median(rss),
    }
    if extras:
        res["extra"] = {k: statistics.median(e[k] for e in extras) for k in extras[0]}
    return res


def main() -> None:
    """Run every benchmark and print a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--plan-repeat", type=int, default=3)
    ap.add_argument("--only", default=None, help="Run only jobs whose name contains this.")
    args = ap.parse_args()
    rows = {}
    for name, code in JOBS.items():
        if args.only and args.only not in name:
            continue
        if "case300" in name and not CASE300.exists():
            print(f"skip {name}: {CASE300} not found", file=sys.stderr)
            continue
        rows[name] = measure(
            code, args.plan_repeat if name.startswith("plan demo") else args.repeat
        )
    print(f"| job | median s | min s | peak RSS MB |   (repeat {args.repeat})")
    print("| --- | --- | --- | --- |")
    for name, r in rows.items():
        print(f"| {name} | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['peak_rss_mb']:.0f} |")
    for name, r in rows.items():
        if "extra" in r:
            print(f"\n{name}, medians: " + ", ".join(f"{k} {v:.4g}" for k, v in r["extra"].items()))
    pa, pp = rows.get("plan demo"), rows.get("plan demo (ptdf, lazy limits)")
    if pa and pp:
        print(f"\nratio ptdf-lazy / angle on the demo plan: {pp['median_s'] / pa['median_s']:.2f}")
    a, b = (
        rows.get("read case300 (siting)"),
        rows.get("read case300 (pandapower from_mpc, baseline)"),
    )
    if a and b:
        print(f"\nratio siting / pandapower on case300: {a['median_s'] / b['median_s']:.2f}")


if __name__ == "__main__":
    main()
