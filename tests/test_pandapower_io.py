"""Tests of the pandapower reader (siting.inputs.grids.pandapower_io).

Reference values are pandapower's own tables (``net.line``, ``net.trafo``,
``net.load`` ...) and hand formulas for per-unit values; for the pglib cases, our
MATPOWER reader reading the same file.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import shapely

from siting.core.errors import InputError, MissingDependencyError, ProblemReport
from siting.inputs.grids.matpower import read_matpower

pp = pytest.importorskip("pandapower")
pn = pytest.importorskip("pandapower.networks")

from siting.inputs.grids.pandapower_io import read_pandapower  # noqa: E402

logging.getLogger("pandapower").setLevel(logging.ERROR)

PGLIB = Path(__file__).parents[1] / ".." / "shared" / "data" / "pglib"
PGLIB_MISSING = (
    "../shared/data/pglib not found: the pglib cases are only beside the project checkout, "
    "not in a user's clone"
)


def _read(source, **kwargs):
    report = ProblemReport()
    grid = read_pandapower(source, report, **kwargs)
    report.raise_if_any()
    assert grid is not None
    return grid, report


def _x_pu_of_lines(net) -> np.ndarray:
    """Per-unit series reactance of pandapower lines, by hand (base: from-bus kV, sn_mva)."""
    vn = net.bus.vn_kv.loc[net.line.from_bus].to_numpy()
    z_base = vn**2 / net.sn_mva
    return (net.line.x_ohm_per_km * net.line.length_km / net.line.parallel).to_numpy() / z_base


def _rating_of_lines(net) -> np.ndarray:
    """Thermal rating of pandapower lines [MVA]: sqrt(3) * kV * kA (* df * parallel)."""
    vn = net.bus.vn_kv.loc[net.line.from_bus].to_numpy()
    line = net.line
    return (math.sqrt(3) * vn * line.max_i_ka * line.df * line.parallel).to_numpy()


def test_case9_json_round_trip(tmp_path: Path) -> None:
    net = pn.case9()
    path = tmp_path / "case9.json"
    pp.to_json(net, str(path))
    grid, _ = _read(path)
    assert grid.source_format == "pandapower" and grid.source == str(path)
    assert grid.base_mva == net.sn_mva
    # counts against pandapower's tables
    assert grid.buses.index.tolist() == [str(b) for b in net.bus.index]
    assert grid.branches.index.tolist() == [f"line:{i}" for i in net.line.index]
    assert grid.generators.index.tolist() == ["ext_grid:0", "gen:0", "gen:1"]
    # load and generation
    assert grid.total_load_mw() == pytest.approx(net.load.p_mw.sum(), rel=1e-12)
    per_bus = net.load.groupby("bus").p_mw.sum().rename(index=str)
    np.testing.assert_allclose(
        grid.buses["load_mw"], per_bus.reindex(grid.buses.index, fill_value=0.0), rtol=1e-12
    )
    p_max = net.ext_grid.max_p_mw.sum() + net.gen.max_p_mw.sum()
    assert grid.total_generation_mw() == pytest.approx(p_max, rel=1e-12)
    assert grid.generators["p_min_mw"].tolist() == pytest.approx(
        [net.ext_grid.min_p_mw[0], *net.gen.min_p_mw]
    )
    assert grid.generators["bus_id"].tolist() == [
        str(net.ext_grid.bus[0]),
        *(str(b) for b in net.gen.bus),
    ]
    # per-unit reactance and rating of each line, by hand from the line table
    np.testing.assert_allclose(grid.branches["x_pu"], _x_pu_of_lines(net), rtol=1e-9)
    rating = _rating_of_lines(net) * net.line.max_loading_percent.to_numpy() / 100
    np.testing.assert_allclose(grid.branches["rating_mw"], rating, rtol=1e-9)
    assert grid.branches["from_bus"].tolist() == [str(b) for b in net.line.from_bus]
    assert grid.branches["length_km"].tolist() == net.line.length_km.tolist()
    # costs: poly_cost's cp2, cp1, cp0 as a polynomial, highest order first
    gen_ids = ["ext_grid:0", "gen:0", "gen:1"]
    for (_, row), gid in zip(net.poly_cost.iterrows(), gen_ids, strict=True):
        curve = grid.costs[gid]
        assert curve.coefficients == pytest.approx(
            (row.cp2_eur_per_mw2, row.cp1_eur_per_mw, row.cp0_eur)
        )
        p = 100.0
        assert float(curve.cost_usd_per_h(p)) == pytest.approx(
            row.cp2_eur_per_mw2 * p**2 + row.cp1_eur_per_mw * p + row.cp0_eur
        )
    assert grid.generators["marginal_cost_usd_per_mwh"].isna().all()  # quadratic
    # coordinates: pandapower's bus.geo GeoJSON points, taken as EPSG:4326
    assert grid.has_coordinates and grid.crs.to_epsg() == 4326
    geo = np.array([json.loads(g)["coordinates"] for g in net.bus.geo])
    np.testing.assert_array_equal(shapely.get_x(grid.buses.geometry.values), geo[:, 0])
    np.testing.assert_array_equal(shapely.get_y(grid.buses.geometry.values), geo[:, 1])
    first = grid.branches.geometry.iloc[0]
    assert list(first.coords) == [tuple(geo[net.line.from_bus[0]]), tuple(geo[net.line.to_bus[0]])]


def test_example_simple_power_flow_conversion(tmp_path: Path) -> None:
    """No OPF limits: pandapower's power-flow conversion, with its merges and aux buses."""
    net = pn.example_simple()
    path = tmp_path / "simple.json"
    pp.to_json(net, str(path))
    grid, report = _read(path, trafo_model="pi")
    notes = "\n".join(report.notes)
    assert "OPF conversion failed" in notes
    # closed bus-bus switches 1-2 and 3-4 merge buses 2 into 1 and 4 into 3
    assert "merged 2 buses" in notes
    assert grid.buses.index.tolist()[:5] == ["0", "1", "3", "5", "6"]
    # line 2 has an open switch at bus 6: it ends at an auxiliary bus instead
    assert grid.branches.at["line:2", "to_bus"] == "line:2:to"
    assert "line:2:to" in grid.buses.index
    assert len(grid.buses) == 6
    # transformer hv bus 2 (merged into 1) -> lv bus 3
    trafo = grid.branches.loc["trafo:0"]
    assert (trafo.from_bus, trafo.to_bus) == ("1", "3")
    t = net.trafo.iloc[0]
    x_pu = math.sqrt(t.vk_percent**2 - t.vkr_percent**2) / 100 * net.sn_mva / t.sn_mva
    assert trafo.x_pu == pytest.approx(x_pu, rel=1e-9)
    assert trafo.shift_deg == t.shift_degree
    assert trafo.rating_mw == pytest.approx(t.sn_mva * t.df * t.parallel)  # 100 % filled in
    np.testing.assert_allclose(
        grid.branches.loc[[f"line:{i}" for i in net.line.index], "rating_mw"],
        _rating_of_lines(net),
        rtol=1e-9,
    )
    # static generators are netted into the load, as pandapower does (with `scaling`)
    assert "static generators (sgen)" in notes
    load = (net.load.p_mw * net.load.scaling).sum() - (net.sgen.p_mw * net.sgen.scaling).sum()
    load += (net.shunt.p_mw * net.shunt.step).sum()
    assert grid.total_load_mw() == pytest.approx(load, abs=1e-12)
    assert grid.total_load_mw() == pytest.approx(2.0 * 0.6 - 2.0)
    # ext_grid and gen only; no limits in the net: pandapower's default 1e9 MW
    assert grid.generators.index.tolist() == ["ext_grid:0", "gen:0"]
    assert (grid.generators["p_max_mw"] == 1e9).all()
    assert grid.costs == {}
    assert not grid.has_coordinates and grid.crs is None


def test_three_winding_transformer_xward_and_open_switch() -> None:
    """Auxiliary buses: a trafo3w star point, xward buses, open switches (line, trafo3w)."""
    net = pn.example_multivoltage()
    t3 = net.trafo3w.iloc[0]
    pp.create_switch(net, bus=int(t3.lv_bus), element=0, et="t3", closed=False)
    grid, report = _read(net)
    br = grid.branches
    hv, mv, lv = (br.loc[f"trafo3w:0:{side}"] for side in ("hv", "mv", "lv"))
    assert (hv.from_bus, hv.to_bus) == (str(t3.hv_bus), "trafo3w:0:star")
    assert (mv.from_bus, mv.to_bus) == ("trafo3w:0:star", str(t3.mv_bus))
    # the open switch at the lv side cuts the lv winding off its bus
    assert (lv.from_bus, lv.to_bus) == ("trafo3w:0:star", "trafo3w:0:lv:to")
    # each winding's rating is its own sn_mva (max_loading_percent filled with 100 %)
    assert [hv.rating_mw, mv.rating_mw, lv.rating_mw] == [t3.sn_hv_mva, t3.sn_mv_mva, t3.sn_lv_mva]
    assert br.at["impedance:0", "rating_mw"] == net.impedance.sn_mva[0]
    for i, bus in net.xward.bus.items():
        assert (br.at[f"xward:{i}", "from_bus"], br.at[f"xward:{i}", "to_bus"]) == (
            str(bus),
            f"xward:{i}:to",
        )
    aux = {"trafo3w:0:star", "trafo3w:0:lv:to", "xward:0:to", "xward:1:to"}
    assert aux <= set(grid.buses.index)
    assert any("auxiliary buses" in n for n in report.notes)
    # the xwards' voltage-holding "generators" are not generation
    assert grid.generators.index.tolist() == ["ext_grid:0", "gen:0"]
    # every bus a branch or generator names is a bus of the grid
    assert set(br.from_bus) | set(br.to_bus) | set(grid.generators.bus_id) <= set(grid.buses.index)


def test_net_object_is_not_changed() -> None:
    net = pn.example_simple()
    columns = list(net.line.columns)
    grid, _ = _read(net)
    assert grid.source.startswith("<pandapower network")
    assert list(net.line.columns) == columns  # no max_loading_percent added
    assert "_ppc" not in net or net["_ppc"] is None


def test_out_of_service_elements() -> None:
    net = pn.case9()
    net.line.loc[2, "in_service"] = False
    net.gen.loc[1, "in_service"] = False
    grid, report = _read(net)
    assert not grid.branches.at["line:2", "in_service"]
    assert grid.branches["in_service"].sum() == len(net.line) - 1
    assert "gen:1" not in grid.generators.index  # pandapower's conversion drops it
    assert any("out of service" in n and "1 gen" in n for n in report.notes)


def test_geodata_partial_or_ignored() -> None:
    net = pn.case9()
    net.bus.loc[4, "geo"] = None
    report = ProblemReport()
    assert read_pandapower(net, report) is None
    with pytest.raises(InputError) as e:
        report.raise_if_any()
    assert "layer 'bus', field 'geo': 1 of 9 buses have no geodata ('4')" in str(e.value)
    assert "use_geodata=False" in str(e.value)
    grid, _ = _read(net, use_geodata=False)
    assert not grid.has_coordinates and grid.branches.geometry.isna().all()


def test_coordinates_csv(tmp_path: Path) -> None:
    """A CSV by pandapower bus index; merged and auxiliary buses take their bus's place."""
    net = pn.example_simple()
    csv = tmp_path / "coords.csv"
    lon = {b: 10.0 + 0.1 * b for b in net.bus.index}
    csv.write_text("bus_id,lon,lat\n" + "".join(f"{b},{lon[b]},50\n" for b in net.bus.index))
    grid, _ = _read(net, bus_coordinates=csv)
    assert grid.has_coordinates and grid.crs.to_epsg() == 4326
    x = dict(zip(grid.buses.index, shapely.get_x(grid.buses.geometry.values), strict=True))
    assert x["6"] == lon[6]
    assert x["line:2:to"] == lon[6]  # the open end of line 2 stands for bus 6
    # line 2, bus 5 -> 6 (open at 6), is drawn to bus 6; its length is pandapower's
    geom = grid.branches.geometry["line:2"]
    assert list(geom.coords) == [(lon[5], 50.0), (lon[6], 50.0)]
    assert grid.branches.at["line:2", "length_km"] == net.line.length_km[2]
    csv.write_text("bus_id,lon,lat\n0,10,50\n99,11,50\n")
    report = ProblemReport()
    assert read_pandapower(net, report, bus_coordinates=csv) is None
    msg = "\n".join(map(str, report))
    assert f"{csv}, row 2 (id '99'), field 'bus_id': bus 99 is not a bus of the case" in msg
    assert "6 of 7 buses have no coordinates" in msg


def test_bad_inputs(tmp_path: Path) -> None:
    report = ProblemReport()
    assert read_pandapower(tmp_path / "missing.json", report) is None
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert read_pandapower(bad, report) is None
    with pytest.raises(InputError) as e:
        report.raise_if_any()
    msg = str(e.value)
    assert "missing.json: file not found" in msg
    assert "bad.json: could not be read as a pandapower network" in msg
    with pytest.raises(TypeError, match="expected a path or a pandapower network"):
        read_pandapower(42, ProblemReport())


def test_clear_error_without_pandapower(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandapower", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'siting\[pandapower\]'"):
        read_pandapower("any.json", ProblemReport())


def test_pickles_are_refused(tmp_path: Path) -> None:
    # unpickling runs code from the file: a .p network is refused before it is opened
    marker = tmp_path / "never.p"
    marker.write_bytes(b"not even opened")
    report = ProblemReport()
    assert read_pandapower(marker, report) is None
    (problem,) = report.problems
    assert problem.file == str(marker) and "unpickling runs code" in problem.message


@pytest.mark.parametrize(
    ("module", "cls", "nested"),
    [
        ("antigravity", "Anything", False),  # importing it opens a web browser
        ("this", "Zen", True),  # importing it prints; hidden inside a table's JSON string
        ("os", "system", False),
        ("pandapower.toolbox", "function", True),  # a function object, not data
    ],
)
def test_json_naming_foreign_modules_is_refused_before_pandapower_imports_them(
    tmp_path: Path, module: str, cls: str, nested: bool
) -> None:
    # pandapower.from_json imports whatever module an object names before its own checks:
    # a file naming one outside pandapower's data types is refused unread
    net = pn.case9()
    path = tmp_path / "net.json"
    pp.to_json(net, str(path))
    doc = json.loads(path.read_text())
    evil = {"_module": module, "_class": cls, "_object": "{}"}
    if nested:  # a table is a JSON string inside the file: put the object in one
        table = json.loads(doc["_object"]["bus"]["_object"])
        table["evil"] = evil
        doc["_object"]["bus"]["_object"] = json.dumps(table)
    else:
        doc["_object"]["evil"] = evil
    path.write_text(json.dumps(doc))
    before = set(sys.modules)
    report = ProblemReport()
    assert read_pandapower(path, report) is None
    (problem,) = report.problems
    assert problem.file == str(path)
    assert f"{module}.{cls}" in problem.message and "runs code" in problem.message
    assert module.split(".")[0] in ("pandapower",) or module not in set(sys.modules) - before


def test_json_written_by_pandapower_is_not_refused(tmp_path: Path) -> None:
    path = tmp_path / "net.json"
    pp.to_json(pn.case118(), str(path))
    grid, _ = _read(path)
    assert len(grid.buses) == 118


def _pglib_params() -> list:
    cases = sorted(PGLIB.glob("*.m")) if PGLIB.is_dir() else []
    if not cases:
        skip = pytest.mark.skip(reason=PGLIB_MISSING)
        return [pytest.param(None, id="pglib-missing", marks=skip)]
    return [pytest.param(p, id=p.stem) for p in cases]


@pytest.mark.filterwarnings("ignore:Setting an item of incompatible dtype:FutureWarning")
@pytest.mark.parametrize("path", _pglib_params())
def test_pglib_through_pandapower_matches_matpower_reader(path: Path) -> None:
    """A pglib case via pandapower (from_mpc, then read_pandapower) equals read_matpower.

    Reference: our MATPOWER reader on the same file. ``from_mpc`` numbers buses
    BUS_I - 1; ``net._from_ppc_lookups`` says which line/trafo/impedance and which
    ext_grid/gen/sgen each MATPOWER row became. ``trafo_model="pi"`` is MATPOWER's.
    """
    pytest.importorskip("matpowercaseframes", reason="from_mpc needs matpowercaseframes")
    from pandapower.converter.matpower import from_mpc

    report = ProblemReport()
    ours = read_matpower(path, report)
    report.raise_if_any()
    net = from_mpc(str(path), f_hz=60)
    grid, _ = _read(net, trafo_model="pi")
    number = {str(b): str(b + 1) for b in net.bus.index}
    assert sorted(grid.buses.index.map(number)) == sorted(ours.buses.index)
    np.testing.assert_allclose(
        grid.buses["load_mw"].rename(index=number).reindex(ours.buses.index),
        ours.buses["load_mw"],
        rtol=1e-12,
        atol=1e-12,
    )
    lookup = net._from_ppc_lookups["branch"]
    ids = [f"{et}:{int(el)}" for et, el in zip(lookup.element_type, lookup.element, strict=True)]
    br = grid.branches.loc[ids]
    np.testing.assert_allclose(br["x_pu"], ours.branches["x_pu"], rtol=1e-9)
    np.testing.assert_allclose(br["rating_mw"], ours.branches["rating_mw"], rtol=1e-9)
    gl = net._from_ppc_lookups["gen"]
    gids = [f"{et}:{int(el)}" for et, el in zip(gl.element_type, gl.element, strict=True)]
    gen = grid.generators.loc[gids]
    np.testing.assert_allclose(gen["p_max_mw"], ours.generators["p_max_mw"], rtol=1e-12)
    np.testing.assert_allclose(gen["p_min_mw"], ours.generators["p_min_mw"], rtol=1e-12)
    for gid, mine in zip(gids, ours.generators.index, strict=True):
        np.testing.assert_allclose(
            grid.costs[gid].cost_usd_per_h(np.array([0.0, 50.0, 100.0])),
            ours.costs[mine].cost_usd_per_h(np.array([0.0, 50.0, 100.0])),
            rtol=1e-12,
        )
