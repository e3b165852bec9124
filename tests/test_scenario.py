"""Scenario files: schema, unknown keys with full paths, extends, path resolution, JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from siting.config.scenario import Scenario, json_schema, load_scenario
from siting.core.errors import ScenarioError

MINIMAL = {
    "name": "t",
    "years": [2027, 2028],
    "layers": {"grid": {"path": "grid/case.m"}},
}


def write(path: Path, data: dict | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def problems(excinfo) -> list[str]:
    return [str(p) for p in excinfo.value.problems]


def test_minimal_scenario_gets_documented_defaults(tmp_path):
    s = load_scenario(write(tmp_path / "s.yaml", MINIMAL))
    # default from DOMAIN.md: Cushman & Wakefield 2025 US average, 11.7 M USD per MW
    assert s.costs.capex_usd_per_mw == 11.7e6
    assert s.campus.cooling == ["air", "evaporative", "liquid"]
    assert s.layers.grid.path == (tmp_path / "grid" / "case.m").resolve()
    assert s.source_file == (tmp_path / "s.yaml").resolve()


def test_unknown_nested_key_is_named_by_full_path_with_suggestion(tmp_path):
    data = {**MINIMAL, "costs": {"capex_usd_per_mwh": 1.0}}
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path / "s.yaml", data))
    (msg,) = problems(e)
    assert "field 'costs.capex_usd_per_mwh'" in msg
    assert "unknown key" in msg and "did you mean 'capex_usd_per_mw'" in msg
    assert str(tmp_path / "s.yaml") in msg


def test_unknown_key_in_list_item_has_index_in_path(tmp_path):
    data = {
        **MINIMAL,
        "layers": {**MINIMAL["layers"], "exclusions": [{"path": "x.gpkg", "layr": "a"}]},
    }
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path / "s.yaml", data))
    assert any("layers.exclusions.0.layr" in m and "did you mean 'layer'" in m for m in problems(e))


def test_every_problem_is_reported_at_once(tmp_path):
    data = {**MINIMAL, "years": ["soon"], "costs": {"discount_rate": 2}, "bogus": 1}
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path / "s.yaml", data))
    msgs = "\n".join(problems(e))
    assert "field 'years.0'" in msg_or(msgs, "soon")
    assert "field 'costs.discount_rate'" in msgs and "less than 1" in msgs
    assert "field 'bogus'" in msgs
    assert len(e.value.problems) == 3


def msg_or(msgs: str, needle: str) -> str:
    assert needle in msgs
    return msgs


def test_missing_required_key(tmp_path):
    data = {k: v for k, v in MINIMAL.items() if k != "years"}
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path / "s.yaml", data))
    assert problems(e) == [f"{tmp_path / 's.yaml'}, field 'years': required key is missing"]


def test_wrong_type(tmp_path):
    data = {**MINIMAL, "campus": {"module_mw": "fifty"}}
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path / "s.yaml", data))
    (msg,) = problems(e)
    assert "campus.module_mw" in msg and "'fifty'" in msg and "number" in msg


def test_cross_field_rules(tmp_path):
    data = {**MINIMAL, "targets": {"it_mw_by_year": {2035: 100}}}
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path / "s.yaml", data))
    assert "2035" in problems(e)[0] and "not planning years" in problems(e)[0]
    data = {**MINIMAL, "campus": {"min_campus_mw": 500, "max_campus_mw": 100}}
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path / "s2.yaml", data))
    assert "min_campus_mw (500) is larger than max_campus_mw (100)" in problems(e)[0]
    data = {**MINIMAL, "years": [2028, 2027]}
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path / "s3.yaml", data))
    assert "strictly increasing" in problems(e)[0]


def test_extends_overrides_and_resolves_paths_against_each_file(tmp_path):
    base = write(
        tmp_path / "base" / "base.yaml",
        {
            **MINIMAL,
            "name": "base",
            "costs": {"capex_usd_per_mw": 9e6, "discount_rate": 0.05},
            "layers": {"grid": {"path": "grid.gpkg"}, "zones": {"path": "zones.gpkg"}},
            "campus": {"cooling": ["air", "liquid"]},
        },
    )
    child = write(
        tmp_path / "child" / "child.yaml",
        {
            "extends": "../base/base.yaml",
            "name": "child",
            "costs": {"discount_rate": 0.08},
            "layers": {"zones": {"path": "my_zones.gpkg"}},
            "campus": {"cooling": ["evaporative"]},
        },
    )
    s = load_scenario(child)
    assert s.name == "child"
    assert s.costs.discount_rate == 0.08  # overridden
    assert s.costs.capex_usd_per_mw == 9e6  # kept from the base
    assert s.layers.grid.path == (tmp_path / "base" / "grid.gpkg").resolve()  # base-relative
    assert s.layers.zones.path == (tmp_path / "child" / "my_zones.gpkg").resolve()  # child-relative
    assert s.campus.cooling == ["evaporative"]  # lists replace, not append
    assert s.extends == base.resolve()


def test_extends_cycle_and_missing_base(tmp_path):
    write(tmp_path / "a.yaml", {**MINIMAL, "extends": "b.yaml"})
    write(tmp_path / "b.yaml", {**MINIMAL, "extends": "a.yaml"})
    with pytest.raises(ScenarioError) as e:
        load_scenario(tmp_path / "a.yaml")
    assert "round in a circle" in str(e.value) and "field 'extends'" in str(e.value)
    write(tmp_path / "c.yaml", {**MINIMAL, "extends": "nowhere.yaml"})
    with pytest.raises(ScenarioError) as e:
        load_scenario(tmp_path / "c.yaml")
    assert f"{tmp_path / 'nowhere.yaml'}: file not found" in str(e.value)


def test_yaml_syntax_error_names_line(tmp_path):
    p = write(tmp_path / "s.yaml", "name: t\nyears: [2027\nlayers: {}\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    assert "not valid YAML at line" in str(e.value) and str(p) in str(e.value)


@pytest.mark.parametrize(
    "text, expected",
    [("", "file is empty"), ("- a\n- b\n", "expected a YAML mapping at the top, got list")],
)
def test_not_a_mapping(tmp_path, text, expected):
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path / "s.yaml", text))
    assert expected in str(e.value)


def test_yaml_cannot_run_code(tmp_path):
    marker = tmp_path / "pwned"
    text = f"!!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path / "s.yaml", text))
    assert not marker.exists()
    assert "not valid YAML" in str(e.value)


def test_json_schema_documents_every_field_and_rejects_unknown_keys():
    schema = json_schema()
    models = {"Scenario": schema, **schema["$defs"]}
    for mname, m in models.items():
        assert m.get("additionalProperties") is False, mname
        for fname, prop in m["properties"].items():
            ref = prop.get("$ref", "").rsplit("/", 1)[-1]
            described = prop.get("description") or models.get(ref, {}).get("description")
            assert described, f"{mname}.{fname} has no description"
    # units in names: every numeric cost/size field of these sections names a unit
    for fname in models["Costs"]["properties"]:
        assert fname.endswith(
            (
                "_usd",
                "_usd_per_mw",
                "_usd_per_km",
                "_usd_per_m3",
                "_usd_per_mwh",
                "_rate",
                "_year",
                "_years",
            )
        ), fname


def test_schema_command_writes_the_schema(tmp_path):
    from typer.testing import CliRunner

    from siting.cli import app

    out = tmp_path / "scenario.schema.json"
    res = CliRunner().invoke(app, ["schema", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text()) == json_schema()


def test_demo_scenarios_validate_as_files():
    repo = Path(__file__).resolve().parents[1]
    demo = load_scenario(repo / "models" / "demo.yaml")
    scarce = load_scenario(repo / "models" / "demo_water_scarce.yaml")
    assert scarce.water.potable_cap_m3_per_day == 5000
    assert scarce.layers == demo.layers
    assert scarce.digest() != demo.digest()
    assert isinstance(demo, Scenario)


# --------------------------------------------------------------------------- issue 17


def test_a_year_given_as_number_and_as_text_is_refused(tmp_path):
    """Issue 17, finding 2: YAML reads ``2031:`` as a number and ``'2031':`` as text; the
    schema made both the year 2031 and kept the last (10) without a word (dda1b6a). Now it
    names the dotted key and both spellings."""
    text = (
        "name: t\nyears: [2030, 2031]\nlayers: {}\n"
        "targets:\n  it_mw_by_year:\n    2031: 3000\n    '2031': 10\n"
    )
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path / "s.yaml", text))
    (msg,) = problems(e)
    assert f"{tmp_path / 's.yaml'}, field 'targets.it_mw_by_year'" in msg
    assert "2031 as 2031 and '2031'" in msg


def test_every_year_keyed_mapping_refuses_two_spellings():
    """Issue 17, finding 2: every mapping of the schema keyed by integers refuses one key in
    two spellings (``2031`` and ``'2031'``): a year-keyed one is a ``ByYear``, the land
    classes' names (codes, not years) take ``ONE_KEY_PER_CODE``; the walk below finds each
    ``dict[int, ...]`` field of every section, so a new one cannot leave the check out."""
    from pydantic import BaseModel

    from siting.config.scenario import ONE_KEY_PER_CODE, ONE_KEY_PER_YEAR

    seen, found = set(), []

    def walk(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, fld in model.model_fields.items():
            ann = fld.annotation
            if getattr(ann, "__origin__", None) is dict and ann.__args__[0] is int:
                checked = ONE_KEY_PER_YEAR in fld.metadata or ONE_KEY_PER_CODE in fld.metadata
                found.append((model.__name__, name, checked))
            for arg in (ann, *getattr(ann, "__args__", ())):
                for a in (arg, *getattr(arg, "__args__", ())):
                    if isinstance(a, type) and issubclass(a, BaseModel):
                        walk(a)

    walk(Scenario)
    assert sorted(found) == [
        ("ClassRasterRef", "class_names", True),
        ("ExportMarket", "max_mw_by_year", True),
        ("GridLayers", "load_growth_per_year", True),
        ("Pact", "supply_by_year", True),
        ("Targets", "accelerators_by_year", True),
        ("Targets", "compute_by_year", True),
        ("Targets", "it_mw_by_year", True),
    ]


def test_a_class_code_named_twice_in_two_spellings_is_refused():
    from siting.config.scenario import ClassRasterRef

    with pytest.raises(ValueError, match=r"class code is given more than once.*3 as 3 and '3'"):
        ClassRasterRef.model_validate({"path": "x.tif", "class_names": {3: "urban", "3": "a"}})
    ok = ClassRasterRef.model_validate({"path": "x.tif", "class_names": {3: "urban", "4": "b"}})
    assert ok.class_names == {3: "urban", 4: "b"}


def test_extends_override_in_the_other_spelling_replaces_the_year(tmp_path):
    """Issue 17, finding 2: an ``extends`` override that writes a base's year in the other
    spelling is an override, not a duplicate: base 2030: 5, 2031: 3000; child '2031': 10
    gives {2030: 5, 2031: 10}. Two spellings in the child itself are still refused."""
    base = write(
        tmp_path / "base.yaml",
        "name: b\nyears: [2030, 2031]\nlayers: {}\n"
        "targets:\n  it_mw_by_year:\n    2030: 5\n    2031: 3000\n",
    )
    child = write(
        tmp_path / "child.yaml",
        "extends: base.yaml\nname: c\ntargets:\n  it_mw_by_year:\n    '2031': 10\n",
    )
    assert load_scenario(child).targets.it_mw_by_year == {2030: 5.0, 2031: 10.0}
    write(base, base.read_text().replace("2031: 3000", "'2031': 3000"))
    write(child, child.read_text().replace("'2031': 10", "2031: 10"))
    assert load_scenario(child).targets.it_mw_by_year == {2030: 5.0, 2031: 10.0}
    write(child, child.read_text() + "    ' 2031': 11\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(child)
    assert "2031 as 2031 and ' 2031'" in str(e.value)


def test_extends_chain_of_16_loads_and_17_is_refused(tmp_path):
    """Issue 17, finding 5a: SECURITY.md allows ``extends`` chains of 16 (refuses deeper);
    dda1b6a refused a chain of exactly 16 links. s0 extends s1 ... extends s<n>."""

    def chain(n: int) -> Path:
        d = tmp_path / f"chain{n}"
        for i in range(n + 1):
            doc = {**MINIMAL, "name": f"s{i}"}
            if i < n:
                doc["extends"] = f"s{i + 1}.yaml"
            write(d / f"s{i}.yaml", doc)
        return d / "s0.yaml"

    assert load_scenario(chain(16)).name == "s0"
    with pytest.raises(ScenarioError) as e:
        load_scenario(chain(17))
    assert "'extends' chain deeper than 16" in str(e.value)
