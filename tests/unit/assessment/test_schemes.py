"""Scoring schemes as data: the shipped default, lookup by region and period with
effective dates, and validation errors that name the indicator and the field."""

import copy
import re
import textwrap

import pytest
import yaml

from services.assessment.model import FACT_KINDS
from services.assessment.schemes import (
    SCHEMES_ROOT,
    SchemeError,
    build_scheme,
    clear_cache,
    find_scheme_file,
    load_scheme,
    period_months,
    period_start,
    region_chain,
    validate_scheme,
)

SHIPPED = sorted(SCHEMES_ROOT.glob("*/*.yaml"))
DEFAULT = yaml.safe_load((SCHEMES_ROOT / "default" / "2021.yaml").read_text(encoding="utf-8"))


def leaves(nodes):
    for node in nodes:
        if "children" in node:
            yield from leaves(node["children"])
        else:
            yield node


# --- the shipped schemes -----------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_schemes_are_valid_and_every_indicator_names_its_clause(path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert validate_scheme(data) == []
    scored = [leaf for leaf in leaves(data["indicators"]) if leaf["formula"] in ("rate", "deduction")]
    assert sum(leaf["weight"] for leaf in scored) == 100
    for leaf in leaves(data["indicators"]):
        assert re.search(r"[\u4e00-\u9fff]", leaf["name"]), leaf["id"]
        assert re.search(r"\d{3} |reference/", leaf["source"]), f"{leaf['id']} cites no seed clause"


def test_the_default_scheme_covers_the_seeds_clauses():
    scheme = load_scheme("default", "2024")
    by_id = {i.id: i for i in scheme.indicators}
    assert by_id["on_time_rate"].formula == "rate"
    assert (by_id["on_time_rate"].numerator, by_id["on_time_rate"].denominator) == (("step_on_time",), ("step_due",))
    assert {by_id[i].formula for i in ("overdue", "late_days", "escalated", "returned")} == {"deduction"}
    assert {i for i, ind in by_id.items() if ind.formula == "veto"} == {"large_scale_return", "falsification"}
    assert by_id["targets_reached"].formula == "bonus" and by_id["targets_reached"].cap == 5
    used = {k for ind in scheme.indicators for k in ind.numerator + ind.denominator + ind.kinds}
    assert used <= set(FACT_KINDS)
    assert {"case_confirmed_in_time", "risk_eliminated", "alert_verified_on_time", "target_reached"} <= used
    assert (scheme.process_share, scheme.year_end_share) == (40, 60)
    assert scheme.grades == (("好", 90), ("较好", 80), ("一般", 70), ("较差", 0))
    assert scheme.praise.top == 3 and scheme.criticism.grades == ("较差",)
    assert scheme.criticism.counts[0].kind == "step_escalated" and scheme.criticism.counts[0].at_least == 3
    assert scheme.no_facts == "zero" and scheme.bonus_cap == 5
    assert "四(三)" in scheme.praise.source and "约谈" in scheme.criticism.source
    assert scheme.version.startswith("default/2021.yaml#")


# --- periods and regions -----------------------------------------------------


def test_periods():
    assert period_months("2024-03") == ("2024-03",)
    assert period_months("2024-Q2") == ("2024-04", "2024-05", "2024-06")
    assert period_months("2024-H1") == tuple(f"2024-{m:02d}" for m in range(1, 7))
    assert period_months("2024-H2")[0] == "2024-07"
    assert len(period_months("2024")) == 12
    assert str(period_start("2024-Q3")) == "2024-07-01"
    for bad in ("2024-13", "2024-Q5", "24-01", "2024-1", "2024-H3", ""):
        with pytest.raises(ValueError):
            period_months(bad)


def test_region_chain():
    assert region_chain("532325") == ["532325000000", "532300000000", "530000000000", "default"]
    with pytest.raises(SchemeError):
        region_chain("5323x")


# --- lookup with effective dates ---------------------------------------------


def write(root, region, year, **changes):
    data = copy.deepcopy(DEFAULT)
    data.update({"region": region, "year": year, "name": f"{region}@{year}", "effective_from": f"{year}-01-01",
                 **changes})
    folder = root / region
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{year}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@pytest.fixture
def root(tmp_path):
    clear_cache()
    write(tmp_path, "default", 2021)
    write(tmp_path, "532325000000", 2022)
    write(tmp_path, "532325000000", 2024, effective_from="2024-07-01")
    yield tmp_path
    clear_cache()


@pytest.mark.parametrize("period, expected", [
    ("2021-05", "default@2021"),  # before the county's first scheme
    ("2023-12", "532325000000@2022"),
    ("2024-03", "532325000000@2022"),  # the 2024 scheme is not in force yet
    ("2024-Q2", "532325000000@2022"),
    ("2024-H1", "532325000000@2022"),
    ("2024", "532325000000@2022"),  # the year began under the old scheme
    ("2024-07", "532325000000@2024"),
    ("2024-Q3", "532325000000@2024"),
    ("2024-H2", "532325000000@2024"),
    ("2025-02", "532325000000@2024"),
])
def test_a_scheme_applies_from_its_effective_date(root, period, expected):
    assert load_scheme("532325", period, root=root).name == expected


def test_a_region_without_an_earlier_scheme_falls_back_to_the_less_specific_one(root):
    write(root, "532301000000", 2024, effective_from="2024-04-01")
    assert load_scheme("532301000000", "2024-03", root=root).name == "default@2021"
    assert load_scheme("532301000000", "2024-04", root=root).name == "532301000000@2024"
    assert load_scheme("532301000000", "2024-04", root=root).effective_from.isoformat() == "2024-04-01"
    assert find_scheme_file(root, "532301", "2024-Q2").name == "2024.yaml"


def test_no_scheme_at_all(root):
    with pytest.raises(SchemeError, match="没有适用于"):
        load_scheme("532325", "2019-06", root=root)


def test_a_broken_file_is_an_error_naming_the_file_and_indicator(root):
    data = copy.deepcopy(DEFAULT)
    data.update(region="532325000000", year=2025, effective_from="2025-01-01")
    next(leaves(data["indicators"]))["weight"] = 31
    (root / "532325000000" / "2025.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(SchemeError, match=r"2025\.yaml.*合计应为100, 实为 101"):
        load_scheme("532325", "2025-01", root=root)


def test_the_file_must_sit_in_its_region_and_year(root):
    write(root, "532325000000", 2026)
    (root / "532325000000" / "2026.yaml").rename(root / "532325000000" / "2027.yaml")
    with pytest.raises(SchemeError, match="与文件名 2027.yaml 不符"):
        load_scheme("532325", "2027-01", root=root)


def test_loaded_schemes_are_cached_until_cleared(root):
    first = load_scheme("532325", "2024-08", root=root)
    assert load_scheme("532325", "2024-08", root=root) is first
    write(root, "532325000000", 2024, effective_from="2024-07-01", bonus_cap=3)
    assert load_scheme("532325", "2024-08", root=root).bonus_cap == 5
    clear_cache()
    again = load_scheme("532325", "2024-08", root=root)
    assert again.bonus_cap == 3 and again.version != first.version


# --- validation --------------------------------------------------------------


def broken(change):
    data = copy.deepcopy(DEFAULT)
    change(data)
    return validate_scheme(data)


def leaf(data, indicator_id):
    return next(node for node in leaves(data["indicators"]) if node["id"] == indicator_id)


@pytest.mark.parametrize("change, message", [
    (lambda d: leaf(d, "overdue").update(weight=15), "指标组 reporting: weight: 55 与下级指标分值合计 60 不符"),
    (lambda d: leaf(d, "overdue").update(weight=15), "indicators: rate 与 deduction 指标的分值 (weight) 合计应为100, 实为 105"),
    (lambda d: leaf(d, "overdue").update(weight=-1), "指标 overdue: weight: 应为正数"),
    (lambda d: leaf(d, "overdue").pop("source"), "指标 overdue: source: 缺少"),
    (lambda d: leaf(d, "overdue").update(formula="penalty"), "指标 overdue: formula: 应为 rate|deduction|bonus|veto"),
    (lambda d: leaf(d, "overdue").update(points=0), "指标 overdue: points: 应为正数"),
    (lambda d: leaf(d, "late_days").update(per="day"), "指标 late_days: per: 应为 occurrence"),
    (lambda d: leaf(d, "on_time_rate").update(numerator="step_ontime"), "指标 on_time_rate: numerator: 未知事实类型 'step_ontime'"),
    (lambda d: leaf(d, "on_time_rate").update(empty=31), "指标 on_time_rate: empty: 应为 full、zero 或不超过 weight 的分数"),
    (lambda d: leaf(d, "on_time_rate").update(kind="step_due"), "指标 on_time_rate: kind: 公式 rate 不用此字段"),
    (lambda d: leaf(d, "targets_reached").pop("cap"), "指标 targets_reached: cap: 应为正数"),
    (lambda d: leaf(d, "targets_reached").update(weight=5), "指标 targets_reached: weight: 公式 bonus 不用此字段"),
    (lambda d: leaf(d, "falsification").update(kind=[]), "指标 falsification: kind: 应为事实类型或其列表"),
    (lambda d: leaf(d, "falsification").update(id="overdue"), "指标 overdue: id: 重复"),
    (lambda d: leaf(d, "returned").update(id="Returned"), "id: 应为小写字母、数字和下划线"),
    (lambda d: leaf(d, "returned").update(name=""), "指标 returned: name: 缺少"),
    (lambda d: d.update(split={"process": 50, "year_end": 60}), "split: process 与 year_end 应为非负数且合计100"),
    (lambda d: d.update(split={"process": 40, "year_end": 60, "process_over": "week"}), "split.process_over"),
    (lambda d: d.update(grades=[{"name": "好", "min": 80}, {"name": "较好", "min": 90}, {"name": "较差", "min": 0}]),
     "grades: min 应从高到低且不重复"),
    (lambda d: d.update(grades=[{"name": "好", "min": 90}, {"name": "较差", "min": 10}]), "grades: 最低等次的 min 应为 0"),
    (lambda d: d["praise"].update(min_grade="优秀"), "praise.min_grade: 应为 grades 中的等次"),
    (lambda d: d["criticism"].update(grades=["差"]), "criticism.grades"),
    (lambda d: d["criticism"]["counts"][0].update(within="year"), "criticism.counts #1.within"),
    (lambda d: d["criticism"]["counts"][0].update(kind="escalated"), "criticism.counts #1.kind: 未知事实类型"),
    (lambda d: d.update(effective_from="2022-03-01"), "effective_from: 2022-03-01 不在方案年度 2021 内"),
    (lambda d: d.update(effective_from="soon"), "effective_from: 应为日期"),
    (lambda d: d.update(no_facts="skip"), "no_facts: 应为 zero|full"),
    (lambda d: d.update(region="532325"), "region: 应为 default 或12位区划代码"),
    (lambda d: d.pop("source"), "source: 缺少"),
    (lambda d: d.update(weights={}), "weights: 未知字段"),
    (lambda d: d.update(indicators=[]), "indicators: 应为非空列表"),
])
def test_validation_names_the_indicator_and_field(change, message):
    errors = broken(change)
    assert any(message in e for e in errors), errors


def test_build_scheme_refuses_an_invalid_scheme_with_every_problem():
    data = copy.deepcopy(DEFAULT)
    leaf(data, "overdue").pop("source")
    leaf(data, "returned")["points"] = "一分"
    with pytest.raises(SchemeError) as err:
        build_scheme(data)
    assert "指标 overdue: source" in str(err.value) and "指标 returned: points" in str(err.value)


def test_groups_may_nest_and_leaves_know_their_groups():
    data = yaml.safe_load(textwrap.dedent("""
        region: default
        year: 2022
        name: 嵌套
        source: 测试
        grades: [{name: 好, min: 90}, {name: 较差, min: 0}]
        praise: {top: 1, min_grade: 好, source: 测试}
        criticism: {grades: [较差], source: 测试}
        indicators:
          - id: a
            name: 甲组
            weight: 100
            children:
              - id: b
                name: 乙组
                children:
                  - {id: c, name: 按时率, formula: rate, numerator: step_on_time, denominator: step_due, weight: 70, source: 条款一}
                  - {id: d, name: 逾期, formula: deduction, kind: [step_overdue, step_returned], points: 1, weight: 30, source: 条款二}
    """))
    assert validate_scheme(data) == []
    scheme = build_scheme(data)
    assert [i.group for i in scheme.indicators] == ["甲组 · 乙组", "甲组 · 乙组"]
    assert scheme.indicator("d").kinds == ("step_overdue", "step_returned")
    assert scheme.effective_from.isoformat() == "2022-01-01" and scheme.process_over == "month"
