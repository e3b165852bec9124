"""Tests of the MATPOWER reader (siting.inputs.grids.matpower).

Three groups:

- every pglib-opf case beside the checkout, read by us and by pandapower
  (``pandapower.converter.matpower.from_mpc``, which parses the file with
  matpowercaseframes and converts it with pandapower's own ``from_ppc``), compared
  number by number;
- tiny hand-written cases, whose values are checked against hand calculations;
- broken cases, each checked to be reported with its section, row, field and value.
"""

from __future__ import annotations

import logging
import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Geod

from siting.core.errors import InputError, ProblemReport
from siting.inputs.grids.matpower import (
    MatpowerCase,
    case_to_grid,
    parse_matpower,
    read_matpower,
)

PGLIB = Path(__file__).parents[1] / ".." / "shared" / "data" / "pglib"
PGLIB_MISSING = (
    "../shared/data/pglib not found: the pglib cases are only beside the project checkout, "
    "not in a user's clone"
)


def _pglib_params() -> list:
    if not PGLIB.is_dir():
        skip = pytest.mark.skip(reason=PGLIB_MISSING)
        return [pytest.param(None, id="pglib-missing", marks=skip)]
    cases = sorted(PGLIB.glob("*.m"))
    if not cases:
        return [pytest.param(None, id="pglib-empty", marks=pytest.mark.skip(reason=PGLIB_MISSING))]
    return [pytest.param(p, id=p.stem) for p in cases]


PGLIB_CASES = _pglib_params()

# pandapower's from_ppc trips a pandas FutureWarning of its own on cases without transformers
pytestmark = pytest.mark.filterwarnings(
    "ignore:Setting an item of incompatible dtype:FutureWarning"
)


# --- pandapower's reading of the same files ------------------------------------------


@cache
def _pandapower_reference(path: Path):
    """pandapower's net for ``path`` after a DC power flow with the pi transformer model.

    ``from_mpc`` parses the file with matpowercaseframes (not our parser) and builds
    pandapower elements with ``from_ppc``; ``rundcpp`` then builds pandapower's
    internal MATPOWER-style case ``net._ppc`` from those elements. ``trafo_model="pi"``
    is MATPOWER's transformer model (pandapower's default T model moves the series
    reactance of transformers with magnetising susceptance, up to 0.06 % in case300).
    """
    pytest.importorskip("pandapower")
    pytest.importorskip(
        "matpowercaseframes", reason="pandapower.converter.from_mpc needs matpowercaseframes"
    )
    import pandapower as pp
    from pandapower.converter.matpower import from_mpc

    logging.getLogger("pandapower").setLevel(logging.ERROR)
    net = from_mpc(str(path), f_hz=60)
    pp.rundcpp(net, trafo_model="pi")
    return net


@cache
def _ours(path: Path):
    report = ProblemReport()
    case = parse_matpower(path, report)
    grid = read_matpower(path, report)
    report.raise_if_any()
    return case, grid


def _ppc_branch_rows(net) -> np.ndarray:
    """Row in pandapower's internal ppc of each MATPOWER branch row (0-based).

    ``net._from_ppc_lookups["branch"]`` says which element (line, trafo, impedance)
    each MATPOWER row became; ``net._pd2ppc_lookups["branch"]`` gives the rows of
    each element type in the internal ppc (lines first, then transformers, then
    impedances), in the order of the element tables.
    """
    lookup = net._from_ppc_lookups["branch"]
    rows = np.full(len(lookup), -1, dtype=np.int64)
    for et, (start, _stop) in net._pd2ppc_lookups["branch"].items():
        mine = (lookup["element_type"] == et).to_numpy()
        rows[mine] = start + net[et].index.get_indexer(lookup["element"][mine].astype(np.int64))
    assert (rows >= 0).all()
    return rows


def _ppc_bus_numbers(net, ppc_rows: np.ndarray) -> np.ndarray:
    """MATPOWER bus number of internal-ppc bus rows (from_mpc's bus index is BUS_I - 1)."""
    lookup = net._pd2ppc_lookups["bus"]
    number_of_row = {int(lookup[b]): int(b) + 1 for b in net.bus.index}
    return np.array([number_of_row[int(r)] for r in ppc_rows])


def _naive_rows(text: str, section: str) -> list[list[str]]:
    """The rows of ``mpc.<section> = [ ... ];`` as pglib writes them: one per line."""
    lines = text.split(f"mpc.{section} = [\n", 1)[1].split("];", 1)[0].splitlines()
    return [ln.split("%")[0].replace(";", "").split() for ln in lines if ln.split("%")[0].strip()]


@pytest.mark.parametrize("path", PGLIB_CASES)
def test_pglib_reads_cleanly(path: Path) -> None:
    """No problem, and counts and IDs as a line-by-line look at the file gives them.

    Reference: the file's text (pglib writes one row per line), no pandapower needed.
    """
    report = ProblemReport()
    grid = read_matpower(path, report)
    report.raise_if_any()
    text = path.read_text()
    bus, gen, branch = (_naive_rows(text, s) for s in ("bus", "gen", "branch"))
    assert grid.buses.index.tolist() == [r[0] for r in bus]  # MATPOWER's bus numbers
    assert grid.branches.index.tolist() == [str(i + 1) for i in range(len(branch))]
    assert grid.generators.index.tolist() == [str(i + 1) for i in range(len(gen))]
    assert grid.branches["x_pu"].tolist() == [float(r[3]) for r in branch]
    assert grid.generators["p_max_mw"].tolist() == [float(r[8]) for r in gen]
    assert grid.total_load_mw() == pytest.approx(sum(float(r[2]) + float(r[4]) for r in bus))
    assert len(grid.costs) == len(gen)


@pytest.mark.parametrize("path", PGLIB_CASES)
def test_pglib_counts_match_pandapower(path: Path) -> None:
    """Counts, total and in service, against pandapower's element tables.

    Reference: the tables of ``from_mpc`` (buses: bus.in_service is BUS_TYPE != 4;
    branches: line + trafo + impedance; generators: one ext_grid/gen/sgen per
    MATPOWER gen row, listed in ``net._from_ppc_lookups["gen"]``).
    """
    _, grid = _ours(path)
    net = _pandapower_reference(path)
    assert len(grid.buses) == len(net.bus)
    assert int((grid.buses["bus_type"] != 4).sum()) == int(net.bus.in_service.sum())
    n_branch = len(net.line) + len(net.trafo) + len(net.impedance)
    assert len(grid.branches) == n_branch
    in_service = int(net.line.in_service.sum() + net.trafo.in_service.sum())
    in_service += int(net.impedance.in_service.sum())
    assert int(grid.branches["in_service"].sum()) == in_service
    gen_lookup = net._from_ppc_lookups["gen"]
    assert len(grid.generators) == len(gen_lookup)
    pp_in_service = [
        bool(net[et].at[int(el), "in_service"])
        for et, el in zip(gen_lookup.element_type, gen_lookup.element, strict=True)
    ]
    assert grid.generators["in_service"].tolist() == pp_in_service


@pytest.mark.parametrize("path", PGLIB_CASES)
def test_pglib_branches_match_pandapower(path: Path) -> None:
    """Ends, reactance, resistance and rating of every branch row.

    Reference: pandapower's internal ppc after ``rundcpp`` (``net._ppc["branch"]``),
    i.e. MATPOWER values turned into pandapower lines/transformers/impedances (ohms,
    vk_percent ...) and back into per unit by pandapower. Rows are matched through
    the lookups, not by position (pandapower puts lines first). pandapower puts a
    transformer's high-voltage bus first, so the ends are compared as a set.
    """
    _, grid = _ours(path)
    net = _pandapower_reference(path)
    rows = _ppc_branch_rows(net)
    ppc_branch = np.real(net._ppc["branch"][rows])
    f_pp = _ppc_bus_numbers(net, ppc_branch[:, 0].astype(np.int64))
    t_pp = _ppc_bus_numbers(net, ppc_branch[:, 1].astype(np.int64))
    br = grid.branches
    ours_f = br["from_bus"].astype(int).to_numpy()
    ours_t = br["to_bus"].astype(int).to_numpy()
    same = ((f_pp == ours_f) & (t_pp == ours_t)) | ((f_pp == ours_t) & (t_pp == ours_f))
    assert same.all(), np.flatnonzero(~same)[:5]
    np.testing.assert_allclose(br["x_pu"].to_numpy(), ppc_branch[:, 3], rtol=1e-9, atol=0)
    np.testing.assert_allclose(br["r_pu"].to_numpy(), ppc_branch[:, 2], rtol=1e-9, atol=1e-15)
    rating = br["rating_mw"].to_numpy()
    limited = np.isfinite(rating)
    np.testing.assert_allclose(rating[limited], ppc_branch[limited, 5], rtol=1e-9)
    # MATPOWER's RATE_A = 0 (unlimited) becomes max_i_ka = 99999 kA in pandapower
    assert (ppc_branch[~limited, 5] > 1e5).all()
    assert br["in_service"].tolist() == (ppc_branch[:, 10] > 0).tolist()


@pytest.mark.parametrize("path", PGLIB_CASES)
def test_pglib_generators_match_pandapower(path: Path) -> None:
    """PMAX, PMIN, bus and cost coefficients of every gen row.

    Reference: the ext_grid/gen/sgen rows ``from_mpc`` made for each MATPOWER gen row
    (``max_p_mw``, ``min_p_mw``, ``bus``) and its ``poly_cost`` table
    (``cp2_eur_per_mw2``, ``cp1_eur_per_mw``, ``cp0_eur``).
    """
    _, grid = _ours(path)
    net = _pandapower_reference(path)
    lookup = net._from_ppc_lookups["gen"]
    pairs = zip(lookup.element_type, lookup.element, strict=True)
    elements = [net[et].loc[int(el)] for et, el in pairs]
    gen = grid.generators
    np.testing.assert_allclose(gen["p_max_mw"], [e["max_p_mw"] for e in elements], rtol=1e-12)
    np.testing.assert_allclose(gen["p_min_mw"], [e["min_p_mw"] for e in elements], rtol=1e-12)
    assert gen["bus_id"].tolist() == [str(int(e["bus"]) + 1) for e in elements]
    costs = net.poly_cost.set_index(["et", "element"])
    for gid, et, el in zip(gen.index, lookup.element_type, lookup.element, strict=True):
        curve = grid.costs[gid]
        row = costs.loc[(et, int(el))]
        assert curve.model == "polynomial"
        expected = (row["cp2_eur_per_mw2"], row["cp1_eur_per_mw"], row["cp0_eur"])
        padded = (0.0,) * (3 - len(curve.coefficients)) + tuple(curve.coefficients)
        np.testing.assert_allclose(padded, expected, rtol=1e-12)


@pytest.mark.parametrize("path", PGLIB_CASES)
def test_pglib_loads_match_pandapower(path: Path) -> None:
    """Load, shunt and voltage of every bus, and the total load.

    Reference: ``from_mpc`` turns PD > 0 into ``load`` rows and PD < 0 into
    non-controllable ``sgen`` rows, GS into ``shunt.p_mw``, BASE_KV into
    ``bus.vn_kv``; summed here per bus.
    """
    _, grid = _ours(path)
    net = _pandapower_reference(path)
    by_number = {b: str(b + 1) for b in net.bus.index}
    load = net.load.groupby("bus")["p_mw"].sum()
    fixed_sgen = net.sgen[~net.sgen.controllable.astype(bool)]
    load = load.sub(fixed_sgen.groupby("bus")["p_mw"].sum(), fill_value=0.0)
    ours_load = grid.buses["load_mw"]
    expected = load.rename(index=by_number).reindex(ours_load.index, fill_value=0.0)
    np.testing.assert_allclose(ours_load.to_numpy(), expected.to_numpy(), rtol=1e-12, atol=1e-12)
    shunt = net.shunt.groupby("bus")["p_mw"].sum().rename(index=by_number)
    np.testing.assert_allclose(
        grid.buses["shunt_mw"].to_numpy(),
        shunt.reindex(grid.buses.index, fill_value=0.0).to_numpy(),
        rtol=1e-12,
        atol=1e-12,
    )
    assert grid.total_load_mw() == pytest.approx(
        net.load.p_mw.sum() - fixed_sgen.p_mw.sum() + net.shunt.p_mw.sum(), rel=1e-12
    )
    np.testing.assert_allclose(
        grid.buses["voltage_kv"].to_numpy(),
        net.bus.vn_kv.rename(index=by_number).reindex(grid.buses.index).to_numpy(),
    )


def _dc_angles_deg(grid, pg_mw: np.ndarray) -> np.ndarray:
    """MATPOWER's DC power flow (makeBdc) on our grid: bus voltage angles [degrees]."""
    bus = grid.buses
    br = grid.branches[grid.branches["in_service"]]
    pos = {b: i for i, b in enumerate(bus.index)}
    n, m = len(bus), len(br)
    f = br["from_bus"].map(pos).to_numpy()
    t = br["to_bus"].map(pos).to_numpy()
    b = 1.0 / (br["x_pu"].to_numpy() * br["tap_ratio"].to_numpy())
    incidence = np.zeros((m, n))
    incidence[np.arange(m), f] = 1.0
    incidence[np.arange(m), t] = -1.0
    bbus = incidence.T @ (b[:, None] * incidence)
    p_shift = incidence.T @ (-b * np.deg2rad(br["shift_deg"].to_numpy()))
    gen = grid.generators
    on = gen["in_service"].to_numpy()
    pg = np.zeros(n)
    np.add.at(pg, gen["bus_id"].map(pos).to_numpy()[on], pg_mw[on])
    p = (pg - bus["load_mw"].to_numpy() - bus["shunt_mw"].to_numpy()) / grid.base_mva - p_shift
    ref = int(np.flatnonzero(bus["bus_type"].to_numpy() == 3)[0])
    keep = np.arange(n) != ref
    theta = np.zeros(n)
    theta[keep] = np.linalg.solve(bbus[np.ix_(keep, keep)], p[keep])
    return np.rad2deg(theta)


@pytest.mark.parametrize("path", PGLIB_CASES)
def test_pglib_dc_power_flow_matches_pandapower(path: Path) -> None:
    """A DC power flow on our grid gives pandapower's angles (taps, shifts, shunts, loads).

    Reference: ``net.res_bus.va_degree`` of pandapower's ``rundcpp`` (relative to the
    reference bus). PG is the dispatch in the file (not part of the Grid).
    """
    case, grid = _ours(path)
    net = _pandapower_reference(path)
    ours = _dc_angles_deg(grid, case.gen[:, 1])
    va = net.res_bus.va_degree.rename(index={b: str(b + 1) for b in net.bus.index})
    va = va.reindex(grid.buses.index).to_numpy()
    ref = int(np.flatnonzero(grid.buses["bus_type"].to_numpy() == 3)[0])
    np.testing.assert_allclose(ours, va - va[ref], rtol=0, atol=1e-8)


# --- hand-written cases --------------------------------------------------------------

TINY = """\
% a tiny three-bus case, written by hand
function mpc = tiny
mpc.version = '2';   % the version
mpc.baseMVA = 100;

%% bus data
%	bus_i	type	Pd	Qd	Gs	Bs	area	Vm	Va	baseKV	zone	Vmax	Vmin
mpc.bus = [
	1	3	0	0	0	0	1	1	0	345	1	1.1	0.9;
	2	2	10.5	1	0	0	1	1	0	345	1	1.1	0.9 % PV bus
	7	1	90	30	2.5	0	2	1	0	0	1	1.1	0.9;  % baseKV 0, shunt 2.5 MW
];

%{
mpc.bus = [ 99 1 0 0 0 0 1 1 0 1 1 1.1 0.9 ];
%}

%% generator data
mpc.gen = [
	1	50	0	100	-100	1	100	1	200	10;
	2, 20, 0, 50, -50, 1, 100, 1, 80, 0
	7	0	0	10	-10	1	100	0	40	0	0 0 0 0 0 0 0 0 0 0 0   1 2 3 4;
];

%% generator cost data
mpc.gencost = [
	1	0	0	3	0	0	50	500	100	1500;
	2	100	50	3	0.01	10	100;
	2	0	0	2	15	0 0 0;
];

%% branch data
mpc.branch = [
	1	2	0.01	0.1	0.02	250	250	300	0	0	1	-360	360;
	2	7	0.02	0.2	0	0	0	0	0.95	-3	1	-360	360;   % transformer
	1	7	0.03	...  continued on the next line
		0.3	0	100	100	0	0	0	0	-360	360   10 20 30 40 0 0 0 0;
];

mpc.areas = [ 1 1; 2 7 ];
mpc.bus_name = {
	'Alpha';
	'Beta % not a comment';
	'Ga''mma';
};
mpc.notes = 'ignored field';
"""


def _write(tmp_path: Path, text: str, name: str = "case.m") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _read(tmp_path: Path, text: str = TINY, **kwargs):
    report = ProblemReport()
    grid = read_matpower(_write(tmp_path, text), report, **kwargs)
    report.raise_if_any()
    assert grid is not None
    return grid, report


def test_tiny_case_values(tmp_path: Path) -> None:
    grid, report = _read(tmp_path)
    assert grid.source_format == "matpower"
    assert grid.base_mva == 100.0
    bus = grid.buses
    assert bus.index.tolist() == ["1", "2", "7"]  # the block comment's bus 99 is not read
    assert bus["name"].tolist() == ["Alpha", "Beta % not a comment", "Ga'mma"]
    assert bus["load_mw"].tolist() == [0.0, 10.5, 90.0]
    assert bus["shunt_mw"].tolist() == [0.0, 0.0, 2.5]
    assert bus["bus_type"].tolist() == [3, 2, 1]
    assert bus["area"].tolist() == ["1", "1", "2"]
    assert bus["voltage_kv"].iloc[0] == 345.0 and math.isnan(bus["voltage_kv"].iloc[2])
    assert any("BASE_KV 0" in n and "'7'" in n for n in report.notes)
    assert grid.total_load_mw() == pytest.approx(10.5 + 90.0 + 2.5)

    br = grid.branches
    assert br.index.tolist() == ["1", "2", "3"]
    assert br["from_bus"].tolist() == ["1", "2", "1"]
    assert br["to_bus"].tolist() == ["2", "7", "7"]
    assert br["x_pu"].tolist() == [0.1, 0.2, 0.3]  # row 3 spans two lines (...)
    assert br["r_pu"].tolist() == [0.01, 0.02, 0.03]
    assert br["b_pu"].tolist() == [0.02, 0.0, 0.0]
    assert br["tap_ratio"].tolist() == [1.0, 0.95, 1.0]  # TAP 0 -> 1
    assert br["shift_deg"].tolist() == [0.0, -3.0, 0.0]
    assert br["rating_mw"].tolist() == [250.0, math.inf, 100.0]  # RATE_A 0 -> inf
    assert br["rating_emergency_mw"].tolist() == [300.0, math.inf, math.inf]  # RATE_C
    assert br["in_service"].tolist() == [True, True, False]  # BR_STATUS 0 kept, flagged
    assert any("out of service" in n and "'3'" in n for n in report.notes)
    assert br["voltage_kv"].tolist()[:2] == [345.0, 345.0]

    gen = grid.generators
    assert gen.index.tolist() == ["1", "2", "3"]
    assert gen["bus_id"].tolist() == ["1", "2", "7"]
    assert gen["p_max_mw"].tolist() == [200.0, 80.0, 40.0]
    assert gen["p_min_mw"].tolist() == [10.0, 0.0, 0.0]
    assert gen["in_service"].tolist() == [True, True, False]
    assert gen["fuel"].tolist() == ["", "", ""]
    assert (gen["co2_t_per_mwh"] == 0).all()
    assert grid.total_generation_mw() == 280.0

    # no coordinates: empty geometries, no CRS
    assert not grid.has_coordinates
    assert grid.buses.crs is None and grid.branches.crs is None
    assert grid.buses.geometry.isna().all() and grid.branches.geometry.isna().all()
    assert grid.branches["length_km"].isna().all()


def test_tiny_case_costs(tmp_path: Path) -> None:
    grid, _ = _read(tmp_path)
    pwl = grid.costs["1"]
    assert pwl.model == "pwl"
    np.testing.assert_array_equal(pwl.points, [[0, 0], [50, 500], [100, 1500]])
    # 25 MW: halfway along the first segment; 75 MW: halfway along the second
    np.testing.assert_allclose(pwl.cost_usd_per_h(np.array([25.0, 75.0])), [250.0, 1000.0])
    poly = grid.costs["2"]
    assert poly.model == "polynomial"
    assert poly.coefficients == (0.01, 10.0, 100.0)
    assert (poly.startup_usd, poly.shutdown_usd) == (100.0, 50.0)
    # 0.01 * 50**2 + 10 * 50 + 100 = 625
    assert float(poly.cost_usd_per_h(50.0)) == pytest.approx(625.0)
    linear = grid.costs["3"]
    assert linear.coefficients == (15.0, 0.0)  # NCOST 2: the trailing zero padding is not read
    assert float(linear.cost_usd_per_h(4.0)) == pytest.approx(60.0)
    mc = grid.generators["marginal_cost_usd_per_mwh"]
    assert math.isnan(mc["1"]) and math.isnan(mc["2"])  # slopes 10 then 20; quadratic
    assert mc["3"] == 15.0


def test_linear_costs_give_marginal_cost(tmp_path: Path) -> None:
    text = TINY.replace(
        "1	0	0	3	0	0	50	500	100	1500;",
        "1	0	0	3	0	0	50	600	100	1200;",
    ).replace("2	100	50	3	0.01	10	100;", "2	0	0	3	0	20	5;")
    grid, _ = _read(tmp_path, text)
    mc = grid.generators["marginal_cost_usd_per_mwh"]
    assert mc.tolist() == [12.0, 20.0, 15.0]  # collinear pwl points; c2 == 0


def test_reactive_gencost_rows_are_ignored(tmp_path: Path) -> None:
    start = TINY.index("mpc.gencost = [")
    end = TINY.index("];", start) + 2
    rows = "\t2 0 0 2 5 0;\n" * 3 + "\t2 0 0 2 99 0;\n" * 3  # 2 x 3 rows: P then Q costs
    grid, report = _read(tmp_path, TINY[:start] + "mpc.gencost = [\n" + rows + "];" + TINY[end:])
    assert [c.coefficients for c in grid.costs.values()] == [(5.0, 0.0)] * 3
    assert grid.generators["marginal_cost_usd_per_mwh"].tolist() == [5.0] * 3
    assert any("reactive" in n for n in report.notes)


def test_no_version_and_no_reference_bus_are_notes(tmp_path: Path) -> None:
    text = TINY.replace("mpc.version = '2';", "").replace(
        "	1	3	0	0", "	1	2	0	0"
    )
    grid, report = _read(tmp_path, text)
    assert grid is not None
    assert any("version" in n for n in report.notes)
    assert any("no reference bus" in n for n in report.notes)


def test_other_struct_name_and_genfuel(tmp_path: Path) -> None:
    text = TINY.replace("function mpc = tiny", "function s = tiny").replace("mpc.", "s.")
    text += "s.genfuel = {'coal'; 'wind'; 'ng'};\n"
    grid, _ = _read(tmp_path, text)
    assert grid.generators["fuel"].tolist() == ["coal", "wind", "ng"]


def test_parse_keeps_standard_columns_and_lines(tmp_path: Path) -> None:
    report = ProblemReport()
    case = parse_matpower(_write(tmp_path, TINY), report)
    assert not report and isinstance(case, MatpowerCase)
    assert case.name == "tiny"
    assert case.bus.shape == (3, 13)
    assert case.gen.shape == (3, 21)  # 10, 10 and 25 values in the file
    assert case.gen[0, 10:].tolist() == [0.0] * 11
    assert case.gen[2, 20] == 0.0  # APF; the 4 result values after it are not kept
    assert case.branch.shape == (3, 13)
    assert case.gencost.shape[0] == 3
    first_bus_line = TINY.splitlines().index("mpc.bus = [") + 2
    assert case.lines["bus"].tolist() == [first_bus_line, first_bus_line + 1, first_bus_line + 2]


def test_coordinates_projected_xy(tmp_path: Path) -> None:
    csv = tmp_path / "coords.csv"
    csv.write_text("bus_id,x,y\n1,500000,0\n2,503000,4000\n7.0,500000,10000\n")
    grid, _ = _read(tmp_path, bus_coordinates=csv, coordinates_crs="EPSG:32633")
    assert grid.has_coordinates
    assert grid.crs.to_epsg() == 32633 and grid.branches.crs.to_epsg() == 32633
    assert (shapely.get_x(grid.buses.geometry.values) == [500000, 503000, 500000]).all()
    line = grid.branches.geometry["1"]
    assert list(line.coords) == [(500000.0, 0.0), (503000.0, 4000.0)]
    # a 3-4-5 triangle: 5 km; bus 1 -> bus 7 is 10 km straight north
    np.testing.assert_allclose(grid.branches["length_km"], [5.0, math.hypot(3, 6), 10.0])


def test_coordinates_lon_lat_geodesic(tmp_path: Path) -> None:
    csv = tmp_path / "coords.csv"
    csv.write_text("bus_id,lon,lat\n1,0,0\n2,1,0\n7,13.4,52.5\n")
    grid, _ = _read(tmp_path, bus_coordinates=csv)
    assert grid.crs.to_epsg() == 4326
    lengths = grid.branches["length_km"]
    # one degree along the equator of WGS84: 2 pi a / 360, a = 6378137 m
    assert lengths["1"] == pytest.approx(2 * math.pi * 6378137.0 / 360 / 1000, rel=1e-12)
    _, _, d = Geod(ellps="WGS84").inv(0.0, 0.0, 13.4, 52.5)
    assert lengths["3"] == pytest.approx(d / 1000, rel=1e-12)
    assert 5900 < lengths["3"] < 6000  # roughly the Gulf of Guinea to Berlin


# --- broken cases --------------------------------------------------------------------


def _problems(tmp_path: Path, text: str | None, **kwargs) -> str:
    """The InputError message for a broken case (``text=None``: a missing file)."""
    path = tmp_path / "missing.m" if text is None else _write(tmp_path, text)
    report = ProblemReport()
    assert read_matpower(path, report, **kwargs) is None
    with pytest.raises(InputError) as e:
        report.raise_if_any()
    return str(e.value)


def test_branch_to_unknown_bus(tmp_path: Path) -> None:
    msg = _problems(
        tmp_path, TINY.replace("	2	7	0.02	0.2", "	2	99	0.02	0.2")
    )
    assert "layer 'branch', row 2 (id '2'), field 'T_BUS'" in msg
    assert "bus 99 is not in the bus table" in msg


def test_gen_at_unknown_bus(tmp_path: Path) -> None:
    msg = _problems(tmp_path, TINY.replace("	2, 20, 0,", "	5, 20, 0,"))
    assert "layer 'gen', row 2 (id '2'), field 'GEN_BUS'" in msg
    assert "bus 5 is not in the bus table" in msg


def test_zero_reactance_in_service(tmp_path: Path) -> None:
    msg = _problems(tmp_path, TINY.replace("0.01	0.1	0.02", "0.01	0	0.02"))
    assert "layer 'branch', row 1 (id '1'), field 'BR_X'" in msg
    assert "reactance BR_X is 0 on an in-service branch" in msg


def test_zero_reactance_out_of_service_is_fine(tmp_path: Path) -> None:
    grid, _ = _read(tmp_path, TINY.replace("0.03	...", "0.03	0	..."))
    assert not grid.branches["in_service"]["3"]


def test_missing_branch_section(tmp_path: Path) -> None:
    text = TINY.replace("mpc.branch = [", "mpc.branches = [")
    msg = _problems(tmp_path, text)
    assert "layer 'branch'" in msg and "no mpc.branch matrix" in msg


def test_missing_base_mva(tmp_path: Path) -> None:
    msg = _problems(tmp_path, TINY.replace("mpc.baseMVA = 100;", ""))
    assert "layer 'baseMVA'" in msg and "no mpc.baseMVA" in msg


def test_non_numeric_token(tmp_path: Path) -> None:
    msg = _problems(tmp_path, TINY.replace("0.01	0.1	0.02", "0.01	0.1x	0.02"))
    line = TINY.splitlines().index("mpc.branch = [") + 2
    where = "layer 'branch', row 1, field 'BR_X'"
    assert f"{where}: expected a number, got '0.1x' (file line {line})" in msg


def test_too_few_columns(tmp_path: Path) -> None:
    short = TINY.replace("\t1\t1\t0\t345\t1\t1.1\t0.9 % PV", "\t1\t1\t0\t345\t1\t1.1 % PV")
    msg = _problems(tmp_path, short)
    assert "layer 'bus', row 2" in msg
    assert "row has 12 values; a MATPOWER 'bus' row needs at least 13" in msg


def test_nan_and_inf(tmp_path: Path) -> None:
    text = TINY.replace("0.01	0.1	0.02	250", "NaN	0.1	0.02	Inf").replace(
        "	200	10;", "	Inf	10;"
    )
    msg = _problems(tmp_path, text)
    assert "layer 'branch', row 1, field 'BR_R': expected a finite number, got nan" in msg
    assert "layer 'gen', row 1, field 'PMAX': expected a finite number, got inf" in msg
    assert "RATE_A" not in msg  # Inf is a valid (unlimited) rating


def test_duplicate_bus_number(tmp_path: Path) -> None:
    msg = _problems(tmp_path, TINY.replace("	7	1	90", "	2	1	90"))
    assert "layer 'bus', row 3 (id '2'), field 'BUS_I'" in msg
    assert "bus number 2 is already used on row 2" in msg


def test_version_1(tmp_path: Path) -> None:
    msg = _problems(tmp_path, TINY.replace("mpc.version = '2';", "mpc.version = '1';"))
    assert "field 'version'" in msg and "only MATPOWER version 2 is supported" in msg
    old = "function [baseMVA, bus, gen, branch] = case_old\nbaseMVA = 100;\n"
    msg = _problems(tmp_path, old)
    assert "version 1" in msg and "only version 2 is supported" in msg


def test_missing_file(tmp_path: Path) -> None:
    msg = _problems(tmp_path, None)
    assert "missing.m: file not found" in msg


def test_unknown_gencost_model(tmp_path: Path) -> None:
    msg = _problems(tmp_path, TINY.replace("2	100	50	3", "3	100	50	3"))
    assert "layer 'gencost', row 2 (id '2'), field 'MODEL'" in msg
    assert "unknown cost model 3" in msg


def test_ncost_inconsistent_with_columns(tmp_path: Path) -> None:
    msg = _problems(tmp_path, TINY.replace("1\t0\t0\t3\t0\t0\t50", "1\t0\t0\t4\t0\t0\t50"))
    assert "layer 'gencost', row 1 (id '1'), field 'NCOST'" in msg
    assert "NCOST 4 needs 8 COST values" in msg and "the row has 6" in msg


def test_pwl_points_not_ascending(tmp_path: Path) -> None:
    msg = _problems(tmp_path, TINY.replace("50	500	100	1500", "50	500	40	1500"))
    assert "layer 'gencost', row 1 (id '1'), field 'COST'" in msg
    assert "increasing p [MW]; got p = 0, 50, 40" in msg
    msg = _problems(tmp_path, TINY.replace("50	500	100	1500", "50	500	50	1500"))
    assert "increasing p [MW]; got p = 0, 50, 50" in msg  # a repeated p is no slope either


def test_gencost_row_count(tmp_path: Path) -> None:
    msg = _problems(tmp_path, TINY.replace("	2	0	0	2	15	0 0 0;\n", ""))
    assert "layer 'gencost'" in msg and "has 2 rows; expected one per generator (3)" in msg


def test_pmax_below_pmin(tmp_path: Path) -> None:
    msg = _problems(tmp_path, TINY.replace("	200	10;", "	5	10;"))
    assert "layer 'gen', row 1 (id '1'), field 'PMAX'" in msg and "PMAX 5 is below PMIN 10" in msg


def test_bus_name_count(tmp_path: Path) -> None:
    msg = _problems(tmp_path, TINY.replace("	'Ga''mma';\n", ""))
    assert "layer 'bus_name'" in msg and "has 2 names for 3 rows" in msg


def test_unclosed_matrix(tmp_path: Path) -> None:
    msg = _problems(tmp_path, TINY.split("];\n\n%{")[0])
    assert "layer 'bus'" in msg and "never closed" in msg


def test_many_bad_rows_are_counted(tmp_path: Path) -> None:
    row = "\t1\t{}\t0.01\t0.1\t0\t100\t100\t100\t0\t0\t1\t-360\t360;\n"
    rows = "".join(row.format(99 + k) for k in range(13))
    text = TINY.replace("mpc.branch = [\n", "mpc.branch = [\n" + rows)
    msg = _problems(tmp_path, text)
    assert msg.count("field 'T_BUS': bus") == 10
    assert "and 3 more rows with the same problem" in msg


def test_all_problems_reported_together(tmp_path: Path) -> None:
    text = (
        TINY.replace("	2	7	0.02	0.2", "	2	99	0.02	0.2")
        .replace("	2, 20, 0,", "	5, 20, 0,")
        .replace("0.01	0.1	0.02", "0.01	0	0.02")
    )
    msg = _problems(tmp_path, text)
    assert msg.startswith("3 problems")
    assert "T_BUS" in msg and "GEN_BUS" in msg and "BR_X" in msg


def test_coordinates_unknown_and_missing_buses(tmp_path: Path) -> None:
    csv = tmp_path / "coords.csv"
    csv.write_text("bus_id,lon,lat\n1,0,0\n42,1,1\n2,1,0\n")
    msg = _problems(tmp_path, TINY, bus_coordinates=csv)
    assert f"{csv}, row 2 (id '42'), field 'bus_id': bus 42 is not a bus of the case" in msg
    assert "(CSV line 3)" in msg
    assert "1 of 3 buses have no coordinates ('7')" in msg


def test_coordinates_bad_values(tmp_path: Path) -> None:
    csv = tmp_path / "coords.csv"
    csv.write_text("bus_id,x,y\n1,0,0\n2,abc,0\n7,1,\n")
    msg = _problems(tmp_path, TINY, bus_coordinates=csv, coordinates_crs="EPSG:32633")
    assert "row 2 (id '2'), field 'x': expected a finite number, got 'abc'" in msg
    assert "row 3 (id '7'), field 'y': expected a finite number, got ''" in msg


def test_coordinates_columns_and_crs(tmp_path: Path) -> None:
    csv = tmp_path / "coords.csv"
    csv.write_text("bus,east,north\n1,0,0\n")
    assert "no bus_id column" in _problems(tmp_path, TINY, bus_coordinates=csv)
    csv.write_text("bus_id,lon,lat\n1,0,0\n2,1,0\n7,2,0\n")
    msg = _problems(tmp_path, TINY, bus_coordinates=csv, coordinates_crs="EPSG:32633")
    assert "lon,lat columns need a geographic CRS" in msg
    msg = _problems(tmp_path, TINY, bus_coordinates=tmp_path / "nope.csv")
    assert "bus coordinates file not found" in msg


def test_case_to_grid_without_file(tmp_path: Path) -> None:
    """case_to_grid works on a case built in memory (as the pandapower reader does)."""
    report = ProblemReport()
    case = parse_matpower(_write(tmp_path, TINY), report)
    case.path = None
    case.lines = {}
    case.bus_ids = ("a", "b", "c")
    grid = case_to_grid(case, report, source="memory")
    report.raise_if_any()
    assert grid.buses.index.tolist() == ["a", "b", "c"]
    assert grid.branches["to_bus"].tolist() == ["b", "c", "c"]
    assert grid.source == "memory"
