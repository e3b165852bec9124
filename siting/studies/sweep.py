"""Scenario sweeps on Dask: one base scenario, many variations, each a task.

A sweep file names a base scenario and how to vary it::

    name: water-caps
    base: ../models/demo.yaml          # relative to this file
    out: ../maps/water-caps            # default: maps/<name>/ (from the working folder)
    vary:
      - product:                       # cartesian product of the lists
          targets.it_mw_by_year.2031: [2000, 3000]
          water.potable_cap_m3_per_day: {range: [0, 20000, 10000]}   # start, stop, step
      - zip:                           # element by element (lists of equal length)
          grid.derate.43: [0.8, 0.6]
          costs.capex_usd_per_mw: [11.0e6, 12.0e6]

Blocks are expanded in order and concatenated. A dotted key addresses any scenario field
(a number addresses a list item when the field is a list). Each variation is merged onto
the base scenario's mapping (after its ``extends`` chain), validated like a scenario file
(errors name the sweep file, the variation and the key), named ``<name>-NNN`` (1-based)
and keyed by the SHA-256 of its canonical JSON without ``name`` and of every input file
it reads.

:func:`run_sweep` runs each variation not yet finished as a task on ``dask.distributed``
(a local cluster by default, or an existing one by its scheduler's address). Each task
plans into ``<out>/<key>/plan`` and writes, atomically, ``result.json`` and then the
``done.json`` marker, or ``failed.json`` with the reason (an infeasible scenario, bad
input, no plan in time). A scenario with either marker is finished and a rerun skips it
(``retry_failed`` runs the failed ones again). ``<out>/summary.csv`` lists every scenario of
the sweep, written when a run starts (so a folder it does not list is from an earlier version
of the sweep file), rewritten (atomically) as each scenario finishes, so a run watched or
stopped halfway shows every finished row, and again at its end. ``<out>`` is marked as this sweep's
(:func:`siting.core.io.claim_folder`): a run refuses an ``out`` folder that is not empty and not
its own (a folder siting did not make, another sweep's, one that holds an input).
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import itertools
import json
import math
import os
import shutil
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from siting.core.errors import InputError, Problem, ScenarioError, SitingError
from siting.core.io import OutputOwner, claim_folder, write_text_atomic

if TYPE_CHECKING:
    from dask.distributed import Client

    from siting.config.scenario import Scenario

#: Largest number of scenarios one sweep file may expand to.
MAX_SCENARIOS = 10_000
#: Default threads of the MIP solver in each task (each worker runs one task at a time).
DEFAULT_TASK_THREADS = 1
#: Where a sweep's local Dask cluster logs its warnings (in ``<out>``).
DASK_LOG = "dask.log"
#: Most share of a sweep's time spent rewriting ``summary.csv`` as scenarios finish.
SUMMARY_WRITE_SHARE = 0.05
#: Files in a scenario's folder.
SCENARIO_FILE, RESULT_FILE, DONE_FILE, FAILED_FILE, RUNNING_FILE = (
    "scenario.yaml",
    "result.json",
    "done.json",
    "failed.json",
    "running.json",
)


# --------------------------------------------------------------------------- the file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RangeSpec(_Strict):
    """``{range: [start, stop, step]}``: start, start + step, ... while below stop."""

    range: list[float] = Field(min_length=3, max_length=3)

    @model_validator(mode="after")
    def _step(self) -> RangeSpec:
        start, stop, step = self.range
        if not all(math.isfinite(v) for v in self.range):
            raise ValueError("range values must be finite numbers")
        if step == 0 or (stop - start) / step < 0:
            raise ValueError(f"range [{start:g}, {stop:g}, {step:g}] is empty or never ends")
        return self

    def values(self) -> list[float | int]:
        start, stop, step = self.range
        n = math.ceil((stop - start) / step - 1e-9)
        vals = [start + i * step for i in range(max(n, 0))]
        if all(float(v).is_integer() for v in (start, step)):
            return [int(v) for v in vals]
        return [round(v, 12) for v in vals]


Values = list[Any] | RangeSpec


class VaryBlock(_Strict):
    """One block of variations: a cartesian ``product`` or an element-wise ``zip``."""

    product: dict[str, Values] | None = None
    zip: dict[str, Values] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> VaryBlock:
        if (self.product is None) == (self.zip is None):
            raise ValueError("each vary block is either `product:` or `zip:` (exactly one)")
        keys = self.product if self.product is not None else self.zip
        if not keys:
            raise ValueError("a vary block needs at least one key")
        for k, v in keys.items():
            if not k or any(not part for part in k.split(".")):
                raise ValueError(f"'{k}' is not a dotted scenario key")
            if isinstance(v, list) and not v:
                raise ValueError(f"'{k}' has no values")
        if self.zip is not None:
            lens = {k: len(_values(v)) for k, v in self.zip.items()}
            if len(set(lens.values())) > 1:
                raise ValueError(
                    "zip lists must be of equal length; got "
                    + ", ".join(f"{k}: {n}" for k, n in lens.items())
                )
        return self

    def expand(self) -> list[dict[str, Any]]:
        """The variations of this block, each ``{dotted key: value}``."""
        if self.product is not None:
            keys = list(self.product)
            lists = [_values(self.product[k]) for k in keys]
            return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*lists)]
        assert self.zip is not None
        keys = list(self.zip)
        lists = [_values(self.zip[k]) for k in keys]
        return [dict(zip(keys, combo, strict=True)) for combo in zip(*lists, strict=True)]


def _values(v: Values) -> list[Any]:
    return v.values() if isinstance(v, RangeSpec) else list(v)


class SweepFile(_Strict):
    """A sweep file: a base scenario and its variations."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,74}$",
        description="Short name; scenarios are named `<name>-NNN`.",
    )
    base: Path = Field(description="The base scenario file (relative to the sweep file).")
    out: Path | None = Field(
        default=None,
        description="Folder of the sweep's results (relative to the sweep file); default "
        "`maps/<name>/` from the working folder.",
    )
    solver_threads: int = Field(
        default=DEFAULT_TASK_THREADS,
        ge=1,
        description="solver.threads of every scenario (unless a variation sets it).",
    )
    vary: list[VaryBlock] = Field(min_length=1, description="Blocks of variations, in order.")


# --------------------------------------------------------------------------- expansion


@dataclass
class SweepScenario:
    """One resolved scenario of a sweep."""

    index: int
    name: str
    key: str
    varied: dict[str, Any]
    raw: dict[str, Any]
    scenario: Scenario


@dataclass
class Sweep:
    """A loaded, expanded sweep."""

    file: Path
    spec: SweepFile
    out: Path
    scenarios: list[SweepScenario]

    def inputs(self) -> list[Path]:
        """Every file the sweep reads: the sweep file and each scenario's files."""
        from siting.inputs import input_files

        files = {self.file: None}
        for s in self.scenarios:
            files.update(dict.fromkeys(input_files(s.scenario)))
        return list(files)

    @property
    def varied_keys(self) -> list[str]:
        keys: dict[str, None] = {}
        for s in self.scenarios:
            keys.update(dict.fromkeys(s.varied))
        return list(keys)


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in a nested mapping, creating mappings on the way.

    Each part names the key it overrides (:func:`siting.config.scenario.matching_key`): in a
    mapping keyed by year, ``targets.it_mw_by_year.2031`` replaces the base's ``2031``
    however the base spelled it.
    """
    from siting.config.scenario import matching_key

    parts = dotted.split(".")
    node: Any = raw
    loc: list[Any] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ValueError(
                    f"'{'.'.join(parts[: i + 1])}': no item {part} in a list of {len(node)}"
                )
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
                loc.append(int(part))
            continue
        if not isinstance(node, dict):
            raise ValueError(f"'{'.'.join(parts[:i])}' is not a mapping; cannot set '{part}'")
        k = matching_key(node, part, tuple(loc))
        if last:
            node[k] = value
        else:
            if node.get(k) is None:
                node[k] = {}
            node = node[k]
            loc.append(k)


def _input_hashes(sc: Scenario, cache: dict[Path, tuple[str, int]]) -> list[tuple[str, str]]:
    """(path, SHA-256) of every data file a scenario reads (not the scenario files), a
    dataset's sidecars and parts included (:func:`siting.core.provenance.hash_inputs`)."""
    from siting.core.provenance import hash_inputs
    from siting.inputs import input_paths

    refs = [r for r in input_paths(sc) if not r[0].startswith("scenario")]
    return sorted({(f.path, f.sha256) for f in hash_inputs(refs, cache)})


def scenario_key(sc: Scenario, cache: dict[Path, tuple[str, int]] | None = None) -> str:
    """SHA-256 of a resolved scenario without its name, and of its input files."""
    doc = json.loads(sc.canonical_json())
    doc.pop("name", None)
    payload = {"scenario": doc, "inputs": _input_hashes(sc, {} if cache is None else cache)}
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def _fmt(v: Any) -> str:
    s = json.dumps(v) if not isinstance(v, str) else v
    return s if len(s) <= 40 else s[:37] + "..."


def load_sweep(path: str | Path) -> Sweep:
    """Read a sweep file and expand it into validated scenarios.

    Raises
    ------
    siting.core.errors.ScenarioError
        Naming the sweep file, the variation (1-based, with its values) and the key.
    """
    from siting.config.scenario import (
        Scenario,
        load_raw,
        problems_from_validation,
        read_yaml,
    )

    path = Path(path)
    data = read_yaml(path)
    try:
        spec = SweepFile.model_validate(data)
    except ValidationError as err:
        problems: list[Problem] = []
        for e in err.errors(include_url=False):
            loc = ".".join(str(p) for p in e.get("loc", ()))
            msg = e.get("msg", "invalid value")
            msg = msg[len("Value error, ") :] if msg.startswith("Value error, ") else msg
            problems.append(Problem(msg, file=str(path), field=loc or None))
        raise ScenarioError(problems, what="sweep file") from None
    here = path.resolve().parent
    base_file = spec.base if spec.base.is_absolute() else (here / spec.base)
    try:
        base_raw = load_raw(base_file)
    except ScenarioError as e:
        raise ScenarioError(
            [Problem(f"base scenario: {e}", file=str(path), field="base")], what="sweep file"
        ) from None
    base_raw.pop("extends", None)
    if spec.out is None:
        out = Path("maps") / spec.name
    else:
        out = spec.out if spec.out.is_absolute() else here / spec.out
    variations = [v for block in spec.vary for v in block.expand()]
    if len(variations) > MAX_SCENARIOS:
        raise ScenarioError(
            Problem(
                f"expands to {len(variations):,} scenarios; at most {MAX_SCENARIOS:,}",
                file=str(path),
                field="vary",
            ),
            what="sweep file",
        )
    problems = []
    scenarios: list[SweepScenario] = []
    cache: dict[Path, tuple[str, int]] = {}
    width = max(3, len(str(len(variations))))
    for i, varied in enumerate(variations, start=1):
        name = f"{spec.name}-{i:0{width}d}"
        what = f"variation {i} ({', '.join(f'{k}={_fmt(v)}' for k, v in varied.items())})"
        raw = copy.deepcopy(base_raw)
        raw.setdefault("solver", {})
        if isinstance(raw["solver"], dict):
            raw["solver"]["threads"] = spec.solver_threads
        bad = False
        for k, v in varied.items():
            try:
                _set_dotted(raw, k, v)
            except ValueError as e:
                problems.append(Problem(f"{what}: {e}", file=str(path), field=k))
                bad = True
        raw["name"] = name
        if bad:
            continue
        try:
            sc = Scenario.model_validate(raw)
        except ValidationError as err:
            for p in problems_from_validation(err, path):
                problems.append(Problem(f"{what}: {p.message}", file=str(path), field=p.field))
            continue
        scenarios.append(SweepScenario(i, name, scenario_key(sc, cache), varied, raw, sc))
    if problems:
        raise ScenarioError(problems[:50], what="sweep file")
    seen: dict[str, str] = {}
    for s in scenarios:
        if s.key in seen:
            raise ScenarioError(
                Problem(
                    f"{s.name} is the same scenario as {seen[s.key]} (same values after merging)",
                    file=str(path),
                    field="vary",
                ),
                what="sweep file",
            )
        seen[s.key] = s.name
    return Sweep(path.resolve(), spec, out, scenarios)


# --------------------------------------------------------------------------- one task


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(doc, indent=2, default=str) + "\n")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def solve_one(task: dict[str, Any]) -> dict[str, Any]:
    """Plan one scenario of a sweep (runs on a Dask worker).

    ``task``: ``name``, ``key``, ``dir`` (the scenario's folder, holding ``scenario.yaml``)
    and ``tiles`` (offer web tiles on the plan's map; default true).
    Writes ``result.json`` then ``done.json``, or ``failed.json`` for a scenario without a
    plan (infeasible, bad input, no plan in time). Other errors (bugs) propagate.
    """
    from siting.pipeline import InfeasibleError, plan

    d = Path(task["dir"])
    attempt = {"pid": os.getpid(), "host": socket.gethostname(), "started_utc": _now()}
    _write_json(d / RUNNING_FILE, attempt)
    for stale in d.glob(".plan.*.tmp"):  # staging of an attempt that was killed
        shutil.rmtree(stale, ignore_errors=True)
    t0 = time.perf_counter()
    head = {"name": task["name"], "key": task["key"], "varied": task.get("varied", {})}
    try:
        p = plan(d / SCENARIO_FILE, out=d / "plan", tiles=task.get("tiles", True), study_run=True)
    except InfeasibleError as e:
        doc = {
            **head,
            "status": "infeasible",
            "error": str(e),
            "violations": e.violations,
            "time_s": round(time.perf_counter() - t0, 3),
            "attempt": attempt,
            "finished_utc": _now(),
        }
        _write_json(d / FAILED_FILE, doc)
        return doc
    except SitingError as e:
        doc = {
            **head,
            "status": "input error" if isinstance(e, InputError) else "no plan",
            "error": str(e),
            "time_s": round(time.perf_counter() - t0, 3),
            "attempt": attempt,
            "finished_utc": _now(),
        }
        _write_json(d / FAILED_FILE, doc)
        return doc
    by_year = p.it_mw_by_year()
    doc = {
        **head,
        "status": p.solve.status,
        "objective_usd": p.solve.objective,
        "bound_usd": p.solve.bound,
        "gap": p.solve.gap,
        "total_cost_usd": p.total_cost_usd,
        "costs_usd": p.costs_usd,
        "metrics": p.metrics,
        "it_mw_by_year": {str(k): float(v) for k, v in by_year.items()},
        "it_mw_final": float(by_year.iloc[-1]) if len(by_year) else 0.0,
        "sites_chosen": int(len(p.sites)),
        "timings": p.manifest.get("timings", {}),
        "time_s": round(time.perf_counter() - t0, 3),
        "plan_dir": str((d / "plan").resolve()),
        "attempt": attempt,
        "finished_utc": _now(),
    }
    _write_json(d / RESULT_FILE, doc)
    _write_json(d / DONE_FILE, {"key": task["key"], "finished_utc": doc["finished_utc"]})
    return doc


# --------------------------------------------------------------------------- the run


@dataclass
class SweepProgress:
    """What a progress callback is told after each scenario (and once at the start)."""

    total: int
    finished: int
    failed: int
    skipped: int
    last: str | None = None
    last_status: str | None = None


@dataclass
class SweepResult:
    """What a sweep did.

    Attributes
    ----------
    rows
        One per scenario (the rows of ``summary.csv``).
    submitted
        Names of the scenarios run this time (the others were finished before).
    """

    name: str
    out: Path
    summary_csv: Path
    rows: list[dict[str, Any]]
    submitted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    robustness_dir: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [r["name"] for r in self.rows if r["status"] not in ("optimal", "feasible")]

    @property
    def internal_errors(self) -> list[str]:
        return [r["name"] for r in self.rows if r["status"] == "internal error"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "out": str(self.out),
            "summary_csv": str(self.summary_csv),
            "scenarios": self.rows,
            "submitted": self.submitted,
            "skipped": self.skipped,
            "failed": self.failed,
            "robustness_dir": str(self.robustness_dir) if self.robustness_dir else None,
            "notes": self.notes,
        }


def _finished(d: Path) -> bool:
    return (d / DONE_FILE).is_file() or (d / FAILED_FILE).is_file()


def _read_outcome(d: Path) -> dict[str, Any] | None:
    if (d / DONE_FILE).is_file() and (d / RESULT_FILE).is_file():
        return json.loads((d / RESULT_FILE).read_text(encoding="utf-8"))
    if (d / FAILED_FILE).is_file():
        return json.loads((d / FAILED_FILE).read_text(encoding="utf-8"))
    return None


def _summary_rows(sweep: Sweep) -> list[dict[str, Any]]:
    """One row of ``summary.csv`` per scenario, from the outcome files in ``<out>``."""
    keys = sweep.varied_keys
    return [
        _summary_row(s, keys, _read_outcome(sweep.out / s.key) or {"status": "not run"})
        for s in sweep.scenarios
    ]


def _summary_row(s: SweepScenario, varied_keys: list[str], doc: dict[str, Any]) -> dict[str, Any]:
    """The row of ``summary.csv`` of scenario ``s`` with outcome ``doc`` (a ``result.json`` or
    ``failed.json`` document, or ``{"status": "not run"}``)."""
    row: dict[str, Any] = {"name": s.name, "key": s.key}
    for k in varied_keys:
        row[k] = s.varied.get(k, "")
    row.update(
        status=doc.get("status"),
        objective_usd=doc.get("objective_usd"),
        it_mw_final=doc.get("it_mw_final"),
        time_s=doc.get("time_s"),
        error=_one_line(doc.get("error") or ""),
    )
    return row


def _one_line(text: str, limit: int = 300) -> str:
    """An error message on one line (whitespace collapsed), cut at ``limit`` characters."""
    s = " ".join(text.split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _write_summary(path: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    write_text_atomic(path, buf.getvalue())


class _LiveSummary:
    """``summary.csv`` kept current as scenarios finish.

    Each finished scenario's row is rewritten from its outcome document and the file is
    written again (atomically) at once, unless the last write ended less than its own
    duration / :data:`SUMMARY_WRITE_SHARE` ago (20 times it; 10,000 rows take about 0.16 s
    to write): then at the next completion after that, or at :meth:`flush`. Writing the
    file so takes at most about 5 % of the run's time.
    """

    def __init__(self, path: Path, sweep: Sweep, rows: list[dict[str, Any]]) -> None:
        self.path, self.sweep, self.rows = path, sweep, rows
        self.row_of = {s.name: i for i, s in enumerate(sweep.scenarios)}
        self.varied_keys = sweep.varied_keys
        self.dirty = False
        self.last_end_s = -math.inf  # perf_counter at the end of the last write
        self.last_took_s = 0.0

    def finished(self, task: dict[str, Any], doc: dict[str, Any]) -> None:
        """Record scenario ``task["name"]``'s outcome ``doc`` and write the file if due."""
        i = self.row_of[task["name"]]
        self.rows[i] = _summary_row(self.sweep.scenarios[i], self.varied_keys, doc)
        self.dirty = True
        if time.perf_counter() - self.last_end_s >= self.last_took_s / SUMMARY_WRITE_SHARE:
            self.flush()

    def flush(self) -> None:
        """Write the file if a row changed since the last write."""
        if not self.dirty:
            return
        t0 = time.perf_counter()
        _write_summary(self.path, self.rows)
        self.last_end_s = time.perf_counter()
        self.last_took_s = self.last_end_s - t0
        self.dirty = False


def run_sweep(
    sweep_file: str | Path,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    retry_failed: bool = False,
    progress: Callable[[SweepProgress], None] | None = None,
    client: Client | None = None,
    robustness: bool = True,
    tiles: bool = True,
) -> SweepResult:
    """Run every unfinished scenario of a sweep on ``dask.distributed``.

    Parameters
    ----------
    sweep_file
        The sweep YAML file.
    scheduler
        Address of an existing Dask scheduler (``tcp://host:8786``); default: a local
        cluster of ``workers`` processes with one thread each.
    workers
        Worker processes of the local cluster.
    retry_failed
        Run again the scenarios that failed before (``failed.json``).
    progress
        Called with a :class:`SweepProgress` at the start and after each scenario.
    client
        A ``dask.distributed.Client`` to use (then ``scheduler`` and ``workers`` are
        ignored); default: one from :func:`siting.core.engine.dask_client`.
    robustness
        Write ``<out>/robustness/`` (:func:`siting.studies.robustness.write_robustness`) at the end.
    tiles
        Offer OpenStreetMap tiles on the plans' and the robustness map as a base the reader
        can switch on (no request until then; the default base is drawn offline).

    Returns
    -------
    SweepResult
        Also written as ``<out>/summary.csv``.
    """
    sweep = load_sweep(sweep_file)
    out = claim_folder(sweep.out, OutputOwner("sweep", sweep.spec.name), inputs=sweep.inputs())
    todo: list[SweepScenario] = []
    skipped: list[str] = []
    for s in sweep.scenarios:
        d = out / s.key
        if retry_failed and (d / FAILED_FILE).is_file() and not (d / DONE_FILE).is_file():
            (d / FAILED_FILE).unlink()
        if _finished(d):
            skipped.append(s.name)
        else:
            todo.append(s)
    total = len(sweep.scenarios)
    state = SweepProgress(total=total, finished=len(skipped), failed=0, skipped=len(skipped))
    state.failed = sum(
        1 for s in sweep.scenarios if (out / s.key / FAILED_FILE).is_file() and s.name in skipped
    )
    say = progress or (lambda _p: None)
    say(state)
    summary = out / "summary.csv"
    # first: which scenarios this sweep is, as of now (a stopped run leaves that behind),
    # then again as each scenario finishes (its row from its outcome document)
    rows = _summary_rows(sweep)
    _write_summary(summary, rows)
    if todo:
        live = _LiveSummary(summary, sweep, rows)
        try:
            _run_tasks(
                sweep, todo, scheduler, workers, state, say, client, live.finished, tiles=tiles
            )
        finally:  # a stopped run (Ctrl-C) leaves every finished row behind
            live.flush()
    rows = _summary_rows(sweep)
    _write_summary(summary, rows)
    result = SweepResult(
        sweep.spec.name,
        out.resolve(),
        summary.resolve(),
        rows,
        [s.name for s in todo],
        skipped,
    )
    if robustness:
        result.robustness_dir, result.notes = _robustness(out, tiles=tiles)
    return result


def _robustness(out: Path, *, tiles: bool = True) -> tuple[Path | None, list[str]]:
    """Write the robustness outputs; a failure there never costs the sweep's results."""
    from siting.studies.robustness import write_robustness

    try:
        return write_robustness(out, tiles=tiles), []
    except Exception as e:  # noqa: BLE001  (reported, and the sweep's own results stand)
        return None, [f"robustness outputs not written: {type(e).__name__}: {e}"]


def _run_tasks(
    sweep: Sweep,
    todo: list[SweepScenario],
    scheduler: str | None,
    workers: int,
    state: SweepProgress,
    say: Callable[[SweepProgress], None],
    client: Client | None = None,
    finished: Callable[[dict[str, Any], dict[str, Any]], None] | None = None,
    *,
    tiles: bool = True,
) -> None:
    from siting.core.engine import dask_client

    tasks = []
    for s in todo:
        d = sweep.out / s.key
        d.mkdir(parents=True, exist_ok=True)
        write_text_atomic(d / SCENARIO_FILE, yaml.safe_dump(s.raw, sort_keys=False))
        tasks.append(
            {
                "name": s.name,
                "key": s.key,
                "dir": str(d.resolve()),
                "varied": s.varied,
                "tiles": tiles,
            }
        )

    # a local cluster's warnings (a busy worker killed at shutdown ...) go to <out>/dask.log
    with dask_client(scheduler, workers, client=client, log_file=sweep.out / DASK_LOG) as c:
        _submit_and_wait(c, tasks, state, say, finished)


def _submit_and_wait(
    client: Client,
    tasks: list[dict[str, Any]],
    state: SweepProgress,
    say: Callable[[SweepProgress], None],
    finished: Callable[[dict[str, Any], dict[str, Any]], None] | None = None,
) -> None:
    """Submit ``tasks`` and, as each completes, call ``finished(task, outcome)`` (before
    ``say``): the outcome is the task's ``result.json`` or ``failed.json`` document."""
    from dask.distributed import as_completed

    futures = {
        client.submit(
            solve_one,
            t,
            pure=False,
            retries=2,
            key=f"siting-{t['name']}-{t['key'][:12]}-{os.urandom(4).hex()}",
        ): t
        for t in tasks
    }
    for fut in as_completed(futures):
        t = futures[fut]
        d = Path(t["dir"])
        if fut.status == "finished":
            doc = fut.result()
        else:
            exc = fut.exception()
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            doc = {
                "name": t["name"],
                "key": t["key"],
                "varied": t["varied"],
                "status": "internal error",
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": tb,
                "finished_utc": _now(),
            }
            _write_json(d / FAILED_FILE, doc)
        if finished is not None:
            finished(t, doc)
        state.finished += 1
        if doc.get("status") not in ("optimal", "feasible"):
            state.failed += 1
        state.last, state.last_status = t["name"], doc.get("status")
        say(state)
