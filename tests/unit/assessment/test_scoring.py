"""Scoring: hand-computed examples (rates, floors, caps, vetoes), zero denominators,
periods (a quarter pools its months; the year splits process and year-end), ties,
praise and criticism, order independence, and explanations that sum to the total."""

import copy
import itertools
import random

import pytest

from services.assessment.model import FACT_KINDS, Fact
from services.assessment.schemes import build_scheme, load_scheme
from services.assessment.scoring import score_units

# A small scheme whose numbers are easy to follow by hand.
SCHEME = {
    "region": "default", "year": 2024, "name": "测试方案", "source": "测试",
    "split": {"process": 40, "year_end": 60},
    "grades": [{"name": "好", "min": 90}, {"name": "较好", "min": 80}, {"name": "一般", "min": 70},
               {"name": "较差", "min": 0}],
    "no_facts": "zero",
    "bonus_cap": 6,
    "praise": {"top": 2, "min_grade": "较好", "source": "表扬条款"},
    "criticism": {"grades": ["较差"], "counts": [{"kind": "step_escalated", "at_least": 3, "within": "quarter"}],
                  "source": "批评条款"},
    "indicators": [
        {"id": "reporting", "name": "报送", "weight": 60, "children": [
            {"id": "on_time", "name": "按时报送率", "formula": "rate", "numerator": "step_on_time",
             "denominator": "step_due", "weight": 40, "source": "条款一"},
            {"id": "overdue", "name": "逾期未报", "formula": "deduction", "kind": "step_overdue", "points": 3,
             "weight": 10, "source": "条款二"},
            {"id": "late", "name": "逾期天数", "formula": "deduction", "kind": "step_late", "per": "value",
             "unit": "天", "points": 0.5, "weight": 10, "source": "条款三"},
        ]},
        {"id": "verified", "name": "按时核查率", "formula": "rate", "numerator": "alert_verified_on_time",
         "denominator": "alert_raised", "weight": 40, "source": "条款四"},
        {"id": "targets", "name": "目标达成", "formula": "bonus", "kind": "target_reached", "points": 2, "cap": 5,
         "source": "条款五"},
        {"id": "risks", "name": "风险消除", "formula": "bonus", "kind": "risk_eliminated", "points": 1, "cap": 3,
         "source": "条款六"},
        {"id": "scale", "name": "规模性返贫", "formula": "veto", "kind": "large_scale_return", "source": "条款七"},
        {"id": "fake", "name": "弄虚作假", "formula": "veto", "kind": "falsification", "source": "条款八"},
    ],
}
ids = itertools.count(1)


def scheme(**changes):
    data = copy.deepcopy(SCHEME)
    for key, value in changes.items():
        data[key] = value
    return build_scheme(data)


def leaf(data, indicator_id):
    nodes = list(data["indicators"])
    while nodes:
        node = nodes.pop()
        if node.get("id") == indicator_id:
            return node
        nodes += node.get("children", [])
    raise KeyError(indicator_id)


def facts(unit, period, **kinds):
    """kinds: kind=count, or kind=[values]; each fact gets its own event id."""
    out = []
    for kind, spec in kinds.items():
        for value in ([1.0] * spec if isinstance(spec, int) else spec):
            out.append(Fact(unit, period, kind, float(value), (f"ev-{next(ids):05d}",)))
    return out


def by_unit(scores):
    return {s.unit_id: s for s in scores}


def points(score, stage=None):
    return {line.indicator_id: line.points for line in score.lines if stage in (None, line.stage)}


def cents(score):
    return sum(round(line.points * 100) for line in score.lines)


# --- hand-computed examples ----------------------------------------------------


def test_a_month_by_hand():
    f = facts(1, "2024-03", step_due=4, step_on_time=3, step_overdue=1, step_late=[5], alert_raised=3,
              alert_verified_on_time=2, target_reached=2)
    [s] = score_units(f, scheme(), "2024-03", [1])
    # 3/4 × 40 = 30; 10 − 1 × 3 = 7; 10 − 5天 × 0.5 = 7.5; 2/3 × 40 = 26.666… → 26.67; 2 × 2 = 4
    assert points(s) == {"on_time": 30.0, "overdue": 7.0, "late": 7.5, "verified": 26.67, "targets": 4.0,
                         "risks": 0.0, "scale": 0.0, "fake": 0.0}
    assert s.total == 75.17 and s.grade == "一般" and s.rank == 1 and not s.vetoed
    line = s.lines[0]
    assert line.formula == "按时报送 3/应报送步骤 4 = 75.0% × 40分 = 30.00分"
    assert (line.indicator, line.max_points, line.fact_count, line.source, line.stage) == \
        ("按时报送率", 40, 7, "条款一", "process")
    assert line.event_ids == tuple(sorted(line.event_ids)) and len(line.event_ids) == 7
    late = next(x for x in s.lines if x.indicator_id == "late")
    assert late.formula == "10分 − 逾期报送 合计5天 × 0.5分/天 = 7.50分"
    assert next(x for x in s.lines if x.indicator_id == "verified").formula.startswith("按时核查 2/预警 3 = 66.7%")


def test_floors_and_caps():
    f = facts(2, "2024-03", step_due=2, step_on_time=2, step_overdue=6, step_late=[10, 20], target_reached=4,
              risk_eliminated=3)
    [s] = score_units(f, scheme(), "2024-03", [2])
    # deductions stop at 0; targets 4 × 2 = 8 → its cap 5; risks 3 × 1 = 3 (its cap 3) → 1 left under bonus_cap 6
    assert points(s) == {"on_time": 40.0, "overdue": 0.0, "late": 0.0, "verified": 40.0, "targets": 5.0,
                         "risks": 1.0, "scale": 0.0, "fake": 0.0}
    assert s.total == 86.0 and s.grade == "较好"
    text = {line.indicator_id: line.formula for line in s.lines}
    assert "扣至0分为止" in text["overdue"] and "扣至0分为止" in text["late"]
    assert "本项上限5分" in text["targets"] and "加分合计上限6分" in text["risks"]


def test_bonus_above_100_without_a_total_cap():
    f = facts(3, "2024-03", step_due=1, step_on_time=1, target_reached=2, risk_eliminated=1)
    [s] = score_units(f, scheme(bonus_cap=None), "2024-03", [3])
    assert s.total == 105.0 and s.grade == "好"


def test_a_veto_removes_every_point_and_shows_it():
    f = facts(4, "2024-03", step_due=2, step_on_time=2, target_reached=1, large_scale_return=1, falsification=1)
    [s] = score_units(f, scheme(), "2024-03", [4])
    assert s.vetoed and s.total == 0 and s.grade == "较差" and s.criticism and not s.praise
    veto = next(x for x in s.lines if x.indicator_id == "scale")
    assert veto.points == -102.0 and "一票否决: 扣除其余各项得分 -102.00分" in veto.formula
    assert veto.fact_count == 1 and len(veto.event_ids) == 1
    second = next(x for x in s.lines if x.indicator_id == "fake")
    assert second.points == 0 and "已由前项否决" in second.formula
    assert cents(s) == 0 and any("一票否决: 规模性返贫" in r for r in s.remarks)


# --- zero denominators and units without facts --------------------------------


def test_a_rate_with_nothing_due_follows_its_empty_rule():
    f = facts(5, "2024-03", step_due=1, step_on_time=1)  # no alerts routed to the unit
    assert points(score_units(f, scheme(), "2024-03", [5])[0])["verified"] == 40.0  # default: full
    for empty, expected in (("zero", 0.0), (12.5, 12.5)):
        data = copy.deepcopy(SCHEME)
        leaf(data, "verified")["empty"] = empty
        [s] = score_units(f, build_scheme(data), "2024-03", [5])
        assert points(s)["verified"] == expected
        assert "本期无预警" in next(x for x in s.lines if x.indicator_id == "verified").formula


def test_a_unit_without_any_fact():
    f = facts(1, "2024-03", step_due=1, step_on_time=1)
    zero = by_unit(score_units(f, scheme(), "2024-03", [1, 9]))[9]
    # rates give 0 (no_facts: zero), deductions keep their points, no bonus
    assert points(zero) == {"on_time": 0.0, "overdue": 10.0, "late": 10.0, "verified": 0.0, "targets": 0.0,
                            "risks": 0.0, "scale": 0.0, "fake": 0.0}
    assert zero.total == 20.0 and zero.grade == "较差" and zero.rank == 2
    assert not zero.praise and not zero.criticism and any("本期无考核事实" in r for r in zero.remarks)
    assert "no_facts: zero" in zero.lines[0].formula
    full = by_unit(score_units(f, scheme(no_facts="full"), "2024-03", [1, 9]))[9]
    assert full.total == 100.0 and full.rank == 1 and not full.praise  # full marks, but nothing to praise


def test_facts_of_other_units_and_months_are_left_out():
    f = facts(1, "2024-03", step_due=2, step_on_time=1) + facts(1, "2024-04", step_overdue=3) + \
        facts(7, "2024-03", falsification=1)
    [s] = score_units(f, scheme(), "2024-03", [1, 1])
    assert s.total == 80.0 and not s.vetoed


# --- periods -------------------------------------------------------------------


def test_a_quarter_pools_its_three_months():
    f = (facts(1, "2024-01", step_due=1, step_on_time=1) + facts(1, "2024-02", step_due=3, step_overdue=1)
         + facts(1, "2024-03", step_late=[4]) + facts(1, "2024-04", step_due=5))
    [q] = score_units(f, scheme(), "2024-Q1", [1])
    # pooled 1/4 × 40 = 10 (not the mean of the months' 40 and 0); 10 − 3; 10 − 2; no alerts → 40
    assert points(q) == {"on_time": 10.0, "overdue": 7.0, "late": 8.0, "verified": 40.0, "targets": 0.0,
                         "risks": 0.0, "scale": 0.0, "fake": 0.0}
    assert q.total == 65.0 and q.period == "2024-Q1"
    same_month = [Fact(x.unit_id, "2024-02", x.kind, x.value, x.event_ids) for x in f if x.period <= "2024-03"]
    [m] = score_units(same_month, scheme(), "2024-02", [1])
    assert [(x.indicator_id, x.points, x.event_ids) for x in m.lines] == \
        [(x.indicator_id, x.points, x.event_ids) for x in q.lines]
    [h] = score_units(f, scheme(), "2024-H1", [1])
    assert points(h)["on_time"] == pytest.approx(40 * 1 / 9, abs=0.005)


def test_the_year_is_process_share_of_the_monthly_mean_plus_year_end_share():
    f = facts(1, "2024-01", step_due=1, step_on_time=1) + facts(1, "2024-02", step_due=3)
    [y] = score_units(f, scheme(), "2024", [1])
    # months with facts: Jan 40 + Feb 0 → mean 20 × 40% = 8; the other indicators full in both months
    assert points(y, "process") == {"on_time": 8.0, "overdue": 4.0, "late": 4.0, "verified": 16.0, "targets": 0.0,
                                    "risks": 0.0}
    # the year's facts pooled: 1/4 × 40 = 10 × 60% = 6
    assert points(y, "year_end") == {"on_time": 6.0, "overdue": 6.0, "late": 6.0, "verified": 24.0, "targets": 0.0,
                                     "risks": 0.0, "scale": 0.0, "fake": 0.0}
    assert y.total == 74.0 and cents(y) == 7400
    process = next(x for x in y.lines if x.stage == "process")
    assert process.formula == "过程考核: 2个月(有考核事实)平均 20.00分 × 40% = 8.00分" and process.max_points == 16
    year_end = next(x for x in y.lines if x.stage == "year_end")
    assert year_end.formula == "年终考核: 按时报送 1/应报送步骤 4 = 25.0% × 40分 = 10.00分 × 60% = 6.00分"
    assert process.event_ids == year_end.event_ids and len(process.event_ids) == 5


def test_the_process_share_may_average_quarters():
    data = copy.deepcopy(SCHEME)
    data["split"] = {"process": 50, "year_end": 50, "process_over": "quarter"}
    f = facts(1, "2024-01", step_due=1, step_on_time=1) + facts(1, "2024-02", step_due=3) + \
        facts(1, "2024-07", step_due=1, step_on_time=1)
    [y] = score_units(f, build_scheme(data), "2024", [1])
    # Q1 pooled 1/4 × 40 = 10, Q3 40 → mean 25 × 50% = 12.5; the year 2/5 × 40 = 16 × 50% = 8
    assert points(y, "process")["on_time"] == 12.5 and points(y, "year_end")["on_time"] == 8.0
    assert "2个季度" in y.lines[0].formula


def test_a_veto_anywhere_in_the_year_zeroes_the_year():
    f = facts(1, "2024-01", step_due=1, step_on_time=1) + facts(1, "2024-11", falsification=1)
    [y] = score_units(f, scheme(), "2024", [1])
    assert y.vetoed and y.total == 0 and cents(y) == 0 and y.lines[-1].stage == "year_end"


# --- ranking, praise, criticism ------------------------------------------------


def test_ties_share_a_rank_and_are_listed_by_unit_id():
    f = []
    for unit, on_time in ((9, 1), (5, 2), (3, 2), (7, 0)):
        f += facts(unit, "2024-03", step_due=2, step_on_time=on_time)
    result = score_units(f, scheme(), "2024-03", [9, 5, 3, 7])
    assert [(s.unit_id, s.total, s.rank) for s in result] == [(3, 100.0, 1), (5, 100.0, 1), (9, 80.0, 3),
                                                               (7, 60.0, 4)]
    assert [s.praise for s in result] == [True, True, False, False]  # top 2 and at least 较好
    assert [s.criticism for s in result] == [False, False, False, True]  # 较差
    assert any("通报表扬 (表扬条款)" in r for r in result[0].remarks)
    assert any("等次较差" in r and "批评条款" in r for r in result[3].remarks)


def test_praise_needs_the_grade_and_criticism_may_take_the_bottom_ranks():
    f = facts(1, "2024-03", step_due=4, step_on_time=3) + facts(2, "2024-03", step_due=4, step_on_time=1) + \
        facts(3, "2024-03", step_due=4, step_on_time=2)
    result = by_unit(score_units(f, scheme(), "2024-03", [1, 2, 3]))
    assert (result[1].total, result[1].praise) == (90.0, True)
    assert (result[3].total, result[3].grade, result[3].rank, result[3].praise) == (80.0, "较好", 2, True)
    data = copy.deepcopy(SCHEME)
    data["praise"]["min_grade"] = "好"
    data["criticism"]["bottom"] = 1
    result = by_unit(score_units(f, build_scheme(data), "2024-03", [1, 2, 3]))
    assert [result[u].praise for u in (1, 2, 3)] == [True, False, False]
    assert (result[2].total, result[2].grade, result[2].criticism) == (70.0, "一般", True)  # last rank
    assert not result[3].criticism


def test_three_escalations_in_a_quarter_bring_criticism_even_at_the_top():
    f = (facts(1, "2024-01", step_escalated=[1]) + facts(1, "2024-02", step_escalated=[2])
         + facts(1, "2024-03", step_due=1, step_on_time=1, step_escalated=[1]))
    [march] = score_units(f, scheme(), "2024-03", [1])
    # March alone: one escalation of level 1 is not a deduction here, but three in the quarter so far are criticised
    assert march.rank == 1 and march.total == 100.0 and march.criticism and not march.praise
    assert any("2024年第1季度被督办3次(≥3次)" in r for r in march.remarks)
    [february] = score_units(f, scheme(), "2024-02", [1])
    assert not february.criticism  # two so far
    spread = facts(1, "2024-03", step_due=1, step_on_time=1, step_escalated=[1, 1]) + facts(1, "2024-04", step_escalated=[1])
    assert not score_units(spread, scheme(), "2024", [1])[0].criticism  # 2 in Q1 and 1 in Q2
    assert score_units(spread + facts(1, "2024-06", step_escalated=[1, 1]), scheme(), "2024", [1])[0].criticism


# --- determinism and explanations ----------------------------------------------


def random_facts(seed, units=12, year="2024"):
    rnd = random.Random(seed)
    kinds = list(FACT_KINDS)
    out = []
    for unit in range(1, units + 1):
        for _ in range(rnd.randint(0, 60)):
            kind = rnd.choice(kinds)
            if kind in ("large_scale_return", "falsification") and rnd.random() < 0.9:
                continue
            value = rnd.choice([0.1, 0.2, 0.3, 0.7, 1.0, 2.0, 3.5]) if kind in ("step_late", "step_escalated") else 1.0
            out.append(Fact(unit, f"{year}-{rnd.randint(1, 12):02d}", kind, value, (f"ev-{rnd.getrandbits(64):016x}",)))
    return out


@pytest.mark.parametrize("period", ["2024-03", "2024-Q2", "2024-H1", "2024"])
def test_the_same_facts_in_any_order_give_the_same_result(period):
    f = random_facts(7)
    base = score_units(f, load_scheme("default", period), period, range(1, 13))
    for seed in range(5):
        shuffled = f[:]
        random.Random(seed).shuffle(shuffled)
        assert score_units(shuffled, load_scheme("default", period), period, reversed(range(1, 13))) == base


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("period", ["2024-05", "2024-Q4", "2024"])
def test_scores_without_lines_are_the_same_scores(seed, period):
    month = {"2024-05": "2024-05", "2024-Q4": "2024-11", "2024": "2024-05"}[period]  # inside the period
    f = random_facts(seed) + [Fact(3, month, "large_scale_return", 1.0, ("veto",))]
    full = score_units(f, load_scheme("default", period), period, range(1, 13))
    bare = score_units(f, load_scheme("default", period), period, range(1, 13), explain=False)
    assert all(s.lines == () for s in bare)
    strip = [(s.unit_id, s.total, s.grade, s.rank, s.vetoed, s.praise, s.criticism, s.remarks) for s in full]
    assert [(s.unit_id, s.total, s.grade, s.rank, s.vetoed, s.praise, s.criticism, s.remarks) for s in bare] == strip
    assert any(s.vetoed for s in bare)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("period", ["2024-05", "2024-Q4", "2024"])
def test_the_lines_sum_exactly_to_the_total(seed, period):
    for s in score_units(random_facts(seed), load_scheme("default", period), period, range(1, 13)):
        assert all(round(x.points * 100) == pytest.approx(x.points * 100, abs=1e-6) for x in s.lines)
        assert cents(s) == round(s.total * 100)
        assert s.total == 0 if s.vetoed else s.total >= 0
        expected = {i.id for i in load_scheme("default", period).indicators}
        assert {x.indicator_id for x in s.lines} == expected
        assert all(x.source and x.indicator for x in s.lines)


def test_half_up_rounding_at_the_line():
    data = copy.deepcopy(SCHEME)
    leaf(data, "overdue").update(points=0.135, weight=10)
    f = facts(1, "2024-03", step_due=1, step_on_time=1, step_overdue=1)
    [s] = score_units(f, build_scheme(data), "2024-03", [1])
    assert points(s)["overdue"] == 9.87  # 9.865 → 9.87 as written (binary 9.86499… would round to 9.86)
    leaf(data, "overdue").update(points=0.115)
    [s] = score_units(f, build_scheme(data), "2024-03", [1])
    assert points(s)["overdue"] == 9.89  # 9.885: half up, not to even


def test_the_default_scheme_end_to_end():
    f = (facts(60, "2023-05", step_due=5, step_on_time=4, step_late=[3], step_returned=1, alert_raised=2,
               alert_verified_on_time=2, case_confirmed_in_time=1, risk_eliminated=1, target_reached=1)
         + facts(61, "2023-05", step_due=5, step_on_time=5))
    result = by_unit(score_units(f, load_scheme("532325000000", "2023-05"), "2023-05", [60, 61]))
    s = result[60]
    # 4/5 × 30 = 24; overdue 10; 5 − 3 × 0.5 = 3.5; escalated 5; 5 − 1 = 4; 15; 1/2 × 15 = 7.5; 7.5; bonus 1
    assert points(s) == {"on_time_rate": 24.0, "overdue": 10.0, "late_days": 3.5, "escalated": 5.0, "returned": 4.0,
                         "alert_verified": 15.0, "case_confirmed": 7.5, "risk_eliminated": 7.5,
                         "targets_reached": 1.0, "large_scale_return": 0.0, "falsification": 0.0}
    assert s.total == 77.5 and s.grade == "一般" and s.rank == 2
    assert result[61].total == 100.0 and result[61].praise and result[61].grade == "好"
    assert all("(" in x.source or "：" in x.source or ":" in x.source for x in s.lines)
