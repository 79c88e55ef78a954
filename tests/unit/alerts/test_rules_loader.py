"""Rule files: region/year lookup, `extends` and overrides, validation, loading errors,
and the shipped files themselves (every rule and every line has a source)."""

import textwrap

import pytest
import yaml

from services.alerts.model import HouseholdFacts, PeriodRecord
from services.alerts.rules import (
    RULES_ROOT,
    evaluate_household,
    RuleSetError,
    clear_cache,
    load_rule_set,
    region_chain,
    validate_rule_set,
)
from services.alerts.rules_loader import find_rule_file

SHIPPED = sorted(RULES_ROOT.glob("*/*.yaml"))

BASE = """
region: default
year: 2021
source: 测试基础文件
monitoring_lines:
  2021: {amount: 6000, source: 测试 2021}
routes:
  township: [乡人民政府]
  medical: [医疗保障局, 医保局]
  rural_revitalization: [乡村振兴局]
always_route_to: [township]
rules:
  - id: income_below_line
    name: 低于监测线
    condition: {kind: income_below_line}
    severity: critical
    cause: income
    route_to: [rural_revitalization]
    source: 测试条款一
  - id: medical_expense_high
    name: 医疗支出较大
    condition: {kind: expense_above, field: medical_expense, amounts: {脱贫户: 5000, 一般农户: 20000}}
    severity: warning
    cause: medical
    route_to: [medical]
    source: 测试条款二
"""


def write(root, region, year, text):
    folder = root / region
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{year}.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def root(tmp_path):
    write(tmp_path, "default", 2021, BASE)
    yield tmp_path
    clear_cache()


# --- lookup ---------------------------------------------------------------------------

def test_region_chain_goes_village_township_county_city_province_default():
    assert region_chain("532325101201") == [
        "532325101201", "532325101000", "532325000000", "532300000000", "530000000000", "default"]
    assert region_chain("5323") == ["532300000000", "530000000000", "default"]
    with pytest.raises(RuleSetError, match="区划代码"):
        region_chain("53A3")


@pytest.mark.parametrize("region, year, expected", [
    ("532325101201", 2023, "532325000000/2022.yaml"),  # village → its county's file
    ("532325101000", 2022, "532325000000/2022.yaml"),  # township
    ("532301000000", 2023, "530000000000/2023.yaml"),  # another county of the province
    ("532300000000", 2024, "530000000000/2024.yaml"),  # city → province, that year
    ("530000000000", 2030, "530000000000/2025.yaml"),  # latest year ≤ the year asked
    ("530000000000", 2022, "default/2021.yaml"),       # Yunnan has no file that early
    ("620402101201", 2024, "620400000000/2023.yaml"),
    ("110000000000", 2023, "default/2021.yaml"),
])
def test_lookup_takes_the_most_specific_region_and_latest_year(region, year, expected):
    path, _ = find_rule_file(RULES_ROOT, region, year)
    assert path.relative_to(RULES_ROOT).as_posix() == expected
    assert load_rule_set(region, year).files[0] == expected


def test_no_file_for_the_year_is_an_error():
    with pytest.raises(RuleSetError, match="2020"):
        load_rule_set("532325000000", 2020)


def test_extends_brings_parent_rules_and_lines():
    yaoan = load_rule_set("532325000000", 2023)
    assert yaoan.files == ("532325000000/2022.yaml", "530000000000/2023.yaml", "default/2021.yaml")
    assert yaoan.monitoring_line.amount == 8050 and yaoan.monitoring_line.year == 2023
    assert {"income_below_line", "drinking_water_unsafe", "income_below_county_average"} <= {r.id for r in yaoan.rules}
    assert yaoan.routes["medical"] == ("医疗保障局", "医保局")
    assert yaoan.name == "姚安县" and "姚安县" in yaoan.source
    assert yaoan.version.startswith("532325000000/2022.yaml@2023#")
    assert load_rule_set("532325000000", 2024).monitoring_line.amount == 8700


def test_loading_is_cached():
    assert load_rule_set("532325000000", 2023) is load_rule_set("532325000000", 2023)


def test_villages_sharing_a_file_share_its_rules_but_keep_their_own_region(root, monkeypatch):
    import services.alerts.rules_loader as loader

    write(root, "532325000000", 2022, "region: '532325000000'\nyear: 2022\nsource: 县文件\nextends: default\n")
    read = []
    monkeypatch.setattr(loader, "_read", lambda path, year, real=loader._read: read.append(path) or real(path, year))
    first, second = load_rule_set("532325101201", 2023, root), load_rule_set("532325102203", 2023, root)
    assert (first.region_code, second.region_code) == ("532325101201", "532325102203")
    assert first.rules is second.rules and first.version == second.version
    assert first.files == ("532325000000/2022.yaml", "default/2021.yaml")
    assert len(read) == 2  # the county's file and the default, once for both villages
    assert load_rule_set("532325000000", 2023, root).rules is first.rules
    assert load_rule_set("532325101201", 2021, root).rules is not first.rules  # another year: default/2021 alone


# --- extends, overrides and replacement on small files ---------------------------------

def test_child_overrides_fields_and_condition_parameters(root):
    write(root, "530000000000", 2023, """
        region: "530000000000"
        year: 2023
        extends: default
        source: 省文件
        monitoring_lines:
          2023: {amount: 8050, source: 省 2023}
        routes:
          medical: [医保中心]
        overrides:
          - id: medical_expense_high
            condition: {amounts: {脱贫户: 3000, 一般农户: 20000}}
            source: 省条款
          - id: income_below_line
            enabled: false
    """)
    rule_set = load_rule_set("530000000000", 2023, root=root)
    medical = rule_set.rule("medical_expense_high")
    assert medical.condition.fields == ("medical_expense",)
    assert medical.condition.amounts == {"脱贫户": 3000, "一般农户": 20000}
    assert medical.source == "省条款" and medical.name == "医疗支出较大"
    assert rule_set.rule("income_below_line").enabled is False
    assert rule_set.routes["medical"] == ("医保中心",) and rule_set.routes["township"] == ("乡人民政府",)
    assert rule_set.monitoring_line.amount == 8050
    assert [r.id for r in rule_set.rules] == ["income_below_line", "medical_expense_high"]  # order kept
    poor = HouseholdFacts(1, "1", "530000000000", "530000000000", "530000000000", "脱贫户", 3, False, False,
                          PeriodRecord("2023", per_capita_income=100, medical_expense=3001))
    assert [f.rule_id for f in evaluate_household(poor, rule_set)] == ["medical_expense_high"]  # disabled: quiet


def test_child_replaces_a_rule_whole_and_adds_new_ones(root):
    write(root, "532325000000", 2022, """
        region: "532325000000"
        year: 2022
        extends: default
        source: 县文件
        rules:
          - id: medical_expense_high
            name: 医疗支出较大(县)
            condition: {kind: expense_above, field: medical_expense, amount: 1000}
            categories: [监测对象]
            severity: info
            cause: medical
            route_to: [medical]
            source: 县条款
          - id: income_below_average
            name: 低于县平均
            condition: {kind: income_below, amount: 9904}
            severity: warning
            cause: income
            route_to: [rural_revitalization]
            source: 县条款二
    """)
    rule_set = load_rule_set("532325101201", 2022, root=root)
    medical = rule_set.rule("medical_expense_high")
    assert medical.condition.amount == 1000 and medical.condition.amounts is None
    assert medical.categories == ("脱贫不稳定户", "边缘易致贫户", "突发严重困难户")
    assert not medical.applies_to("脱贫户")
    assert [r.id for r in rule_set.rules][-1] == "income_below_average"
    assert rule_set.monitoring_line.amount == 6000 and rule_set.monitoring_line.year == 2021


def test_extends_with_a_pinned_year(root):
    write(root, "530000000000", 2023, """
        region: "530000000000"
        year: 2023
        extends: default
        source: 省2023
        monitoring_lines: {2023: {amount: 8050, source: 省 2023}}
    """)
    write(root, "530000000000", 2024, """
        region: "530000000000"
        year: 2024
        extends: "530000000000@2023"
        source: 省2024
        monitoring_lines: {2024: {amount: 8700, source: 省 2024}}
    """)
    assert load_rule_set("530000000000", 2024, root=root).monitoring_line.amount == 8700
    assert load_rule_set("530000000000", 2023, root=root).monitoring_line.amount == 8050
    assert load_rule_set("530000000000", 2024, root=root).files == (
        "530000000000/2024.yaml", "530000000000/2023.yaml", "default/2021.yaml")


def test_an_extends_cycle_is_an_error(root):
    write(root, "530000000000", 2023, """
        region: "530000000000"
        year: 2023
        extends: "530000000000"
        source: 自己
    """)
    with pytest.raises(RuleSetError, match="循环"):
        load_rule_set("530000000000", 2023, root=root)


def test_overriding_a_rule_the_parent_does_not_have(root):
    write(root, "530000000000", 2023, """
        region: "530000000000"
        year: 2023
        extends: default
        source: 省文件
        overrides:
          - {id: no_such_rule, enabled: false}
    """)
    with pytest.raises(RuleSetError, match=r"530000000000/2023\.yaml.*no_such_rule"):
        load_rule_set("530000000000", 2023, root=root)


def test_an_override_that_breaks_the_condition_names_the_child_file(root):
    write(root, "530000000000", 2023, """
        region: "530000000000"
        year: 2023
        extends: default
        source: 省文件
        overrides:
          - id: medical_expense_high
            condition: {amount: 5000}
    """)
    with pytest.raises(RuleSetError) as error:
        load_rule_set("530000000000", 2023, root=root)
    message = str(error.value)
    assert "530000000000/2023.yaml" in message and "medical_expense_high" in message
    assert "condition.amount" in message


# --- loading errors -----------------------------------------------------------------------

def bad_rule(**changes):
    rule = {"id": "bad_rule", "name": "坏规则", "condition": {"kind": "income_below_line"}, "severity": "warning",
            "cause": "income", "route_to": ["rural_revitalization"], "source": "测试"}
    rule.update(changes)
    return {k: v for k, v in rule.items() if v is not None}


def write_county(root, rule):
    data = {"region": "532325000000", "year": 2022, "extends": "default", "source": "县文件", "rules": [rule]}
    return write(root, "532325000000", 2022, yaml.safe_dump(data, allow_unicode=True))


@pytest.mark.parametrize("changes, words", [
    ({"condition": {"kind": "income_below_lien"}}, "condition.kind"),
    ({"source": None}, "source: 缺少"),
    ({"name": None}, "name: 缺少"),
    ({"condition": None}, "condition: 缺少"),
    ({"severity": "urgent"}, "severity"),
    ({"cause": "weather"}, "cause"),
    ({"route_to": ["police"]}, "route_to"),
    ({"categories": ["贫困户"]}, "categories"),
    ({"condition": {"kind": "income_below", "amount": "很多"}}, "condition.amount"),
    ({"condition": {"kind": "income_fall", "share": 20}}, "condition.share"),
    ({"condition": {"kind": "income_below_line", "amout": 1}}, "condition.amout"),
    ({"condition": {"kind": "guarantee_missing", "flag": "roads_ok"}}, "condition.flag"),
    ({"condition": {"kind": "expense_above", "field": "food", "amount": 1}}, "condition.field"),
    ({"condition": {"kind": "village_share_above", "share": 3}}, "condition.share"),
    ({"enabled": "yes"}, "enabled"),
    ({"severity_level": "warning"}, "severity_level"),
])
def test_a_bad_rule_fails_to_load_naming_file_rule_and_field(root, changes, words):
    path = write_county(root, bad_rule(**changes))
    with pytest.raises(RuleSetError) as error:
        load_rule_set("532325000000", 2022, root=root)
    message = str(error.value)
    assert str(path) in message and "bad_rule" in message and words in message


def test_a_good_rule_of_the_same_shape_loads(root):
    write_county(root, bad_rule())
    assert load_rule_set("532325000000", 2022, root=root).rule("bad_rule").severity == "warning"


@pytest.mark.parametrize("text, words", [
    ("region: default\nyear: 2021\nsource: [unclosed\n", "YAML"),
    ("region: \"532325000000\"\nyear: 2021\nsource: x\n", "region"),
    ("region: default\nyear: 2020\nsource: x\n", "year"),
    ("region: default\nyear: 2021\n", "source"),
    ("region: default\nyear: 2021\nsource: x\nmonitoring_lines: {2021: {amount: 6000}}\n", "monitoring_lines.2021.source"),
    ("region: default\nyear: 2021\nsource: x\nrule: []\n", "rule: 未知字段"),
])
def test_bad_files_fail_to_load(tmp_path, text, words):
    write(tmp_path, "default", 2021, text)
    with pytest.raises(RuleSetError, match=words):
        load_rule_set("default", 2021, root=tmp_path)
    clear_cache()


# --- validate_rule_set (for editing through the API) ---------------------------------------

def test_validate_accepts_a_good_file():
    assert validate_rule_set(yaml.safe_load(BASE)) == []


def test_validate_names_rule_and_field():
    data = yaml.safe_load(BASE)
    data["rules"][1]["condition"]["kind"] = "expense_over"
    del data["rules"][0]["source"]
    data["rules"].append(dict(data["rules"][0], source="x"))
    errors = validate_rule_set(data)
    assert any("规则 medical_expense_high" in e and "condition.kind" in e and "expense_over" in e for e in errors)
    assert any("规则 income_below_line" in e and "source: 缺少" in e for e in errors)
    assert any("规则 income_below_line" in e and "重复" in e for e in errors)
    assert validate_rule_set([]) == ["规则集: 应为映射"]


def test_validate_overrides_need_only_an_id_and_cannot_change_the_kind():
    data = {"region": "530000000000", "year": 2023, "source": "x", "extends": "default",
            "overrides": [{"id": "medical_expense_high", "enabled": False},
                          {"id": "income_below_line", "condition": {"kind": "income_below"}}]}
    errors = validate_rule_set(data)
    assert len(errors) == 1 and "规则 income_below_line" in errors[0] and "kind" in errors[0]


# --- the shipped files ----------------------------------------------------------------------

@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.relative_to(RULES_ROOT).as_posix())
def test_every_shipped_file_validates_loads_and_cites_its_sources(path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert validate_rule_set(data) == []
    for entry in data.get("rules", []) + data.get("overrides", []):
        assert entry.get("source", "x").strip(), entry["id"]
    for year, line in data.get("monitoring_lines", {}).items():
        assert line["source"].strip(), year
    region = "110000000000" if path.parent.name == "default" else path.parent.name
    rule_set = load_rule_set(region, int(path.stem))
    assert rule_set.files[0] == path.relative_to(RULES_ROOT).as_posix()
    for rule in rule_set.rules:
        assert rule.source.strip() and rule.name.strip(), rule.id
        assert set(rule.route_to) <= set(rule_set.routes), rule.id
    assert set(rule_set.always_route_to) <= set(rule_set.routes)
    assert rule_set.monitoring_line is not None and rule_set.monitoring_line.source


@pytest.mark.parametrize("region, year, amount", [
    ("default", 2021, 6000), ("530000000000", 2023, 8050), ("530000000000", 2024, 8700),
    ("530000000000", 2025, 8700), ("410000000000", 2023, 7500), ("210000000000", 2022, 7260),
    ("350121000000", 2023, 10560), ("350526000000", 2024, 19560)])
def test_shipped_monitoring_lines(region, year, amount):
    line = load_rule_set(region, year).monitoring_line
    assert (line.amount, line.year) == (amount, year)


def test_shipped_county_averages_and_village_criteria_of_yaoan():
    rule_set = load_rule_set("532325000000", 2022)
    average = rule_set.rule("income_below_county_average").condition
    assert average.amounts == {"脱贫户": 13411, "脱贫不稳定户": 9904, "边缘易致贫户": 9904, "突发严重困难户": 9904}
    share = rule_set.rule("village_monitored_share").condition
    assert (share.share, share.inclusive, share.min_count) == (0.03, False, None)
    concentration = rule_set.rule("village_concentration").condition
    assert (concentration.share, concentration.inclusive, concentration.min_count) == (0.05, True, 1000)
