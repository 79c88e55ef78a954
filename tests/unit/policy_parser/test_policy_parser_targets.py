"""Numeric targets and deadlines on single sentences."""

from __future__ import annotations

import pytest

from services.tasks.policy_parser.deadlines import extract_deadlines
from services.tasks.policy_parser.targets import extract_targets


def rows(text, year=None):
    return [(t.indicator, t.year, t.comparator, t.value, t.unit, t.needs_value, t.category) for t in extract_targets(text, year)]


def test_household_categories_with_fenbie_and_jun():
    text = "2022年,脱贫户、易返贫致贫户家庭人均纯收入分别达16093元、12500元以上,增长率分别达20%、26.2%以上。2023年,增长率均达20%以上。"
    assert rows(text) == [
        ("家庭人均纯收入", 2022, ">=", 16093, "元", False, "脱贫户"),
        ("家庭人均纯收入", 2022, ">=", 12500, "元", False, "易返贫致贫户"),
        ("增长率", 2022, ">=", 20, "%", False, "脱贫户"),
        ("增长率", 2022, ">=", 26.2, "%", False, "易返贫致贫户"),
        ("增长率", 2023, ">=", 20, "%", False, None),
    ]


def test_blank_template_numbers_are_never_guessed():
    text = "2022年,脱贫户、易返贫致贫户家庭人均纯收入分别达元、元以上,年均增长率均达%以上。确保转移就业稳定在万人以上。"
    assert rows(text) == [
        ("家庭人均纯收入", 2022, ">=", None, "元", True, "脱贫户"),
        ("家庭人均纯收入", 2022, ">=", None, "元", True, "易返贫致贫户"),
        ("年均增长率", 2022, ">=", None, "%", True, "脱贫户"),
        ("年均增长率", 2022, ">=", None, "%", True, "易返贫致贫户"),
        ("转移就业", None, ">=", None, "万人", True, None),
    ]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("到2024年,全县用于产业发展的统筹整合财政涉农资金占比达65%以上。", ("全县用于产业发展的统筹整合财政涉农资金占比", 2024, ">=", 65, "%")),
        ("确保办结率稳定达98%以上。", ("办结率", None, ">=", 98, "%")),
        ("城乡居民收入比达2.6:1。", ("城乡居民收入比", None, "=", 2.6, ":1")),
        ("全县种植面积达64万亩。", ("全县种植面积", None, "=", 64, "万亩")),
        ("转移就业稳定在1.2万人以上。", ("转移就业", None, ">=", 1.2, "万人")),
        ("2022年农村低保保障标准提高到不低于4960元/人/年。", ("农村低保保障标准", 2022, ">=", 4960, "元/人/年")),
        ("救助比例不低于70%。", ("救助比例", None, ">=", 70, "%")),
        ("贫困发生率控制在1%以内。", ("贫困发生率", None, "<=", 1, "%")),
        ("报销比例达到80%左右。", ("报销比例", None, "=", 80, "%")),
        ("改造农村卫生厕所6.56万户。", ("改造农村卫生厕所", None, "=", 6.56, "万户")),
        ("劳务报酬发放金额不低于中央投资的30%。", ("劳务报酬发放金额占中央投资", None, ">=", 30, "%")),
    ],
)
def test_single_targets(text, expected):
    assert [r[:5] for r in rows(text)] == [expected]


def test_year_from_heading_default():
    assert rows("全市脱贫人口人均纯收入预计增长15%以上,达到13200元以上。", 2023) == [
        ("全市脱贫人口人均纯收入增长", 2023, ">=", 15, "%", False, None),
        ("全市脱贫人口人均纯收入", 2023, ">=", 13200, "元", False, None),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "对易返贫致贫户占农村人口比例超过3%,人数在1000人以上的村开展重点监测。",
        "培育一批年销售收入5000万元以上的龙头企业。",
        "全县脱贫户2021年家庭人均纯收入为13411元。",
        "年龄在15-25周岁的“两后生”,实施“2512”引培行动,十四届县委常委会第22次会议。",
        "联系人:李剑青 2210731;邮箱:abc@126.com。",
    ],
)
def test_qualifiers_baselines_and_names_are_not_targets(text):
    assert rows(text) == []


def test_counted_objects_keep_their_description():
    assert [r[:5] for r in rows("到2024年,打造10个存栏1000头以上肉牛养殖示范基地。")] == [
        ("打造存栏1000头以上肉牛养殖示范基地", 2024, "=", 10, "个")
    ]


def deadlines(text, doc_date="2023-03-01"):
    return [(d.phrase, d.date, d.recurring, d.month_day, d.year_inferred) for d in extract_deadlines(text, doc_date)]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("请于6月30日前报送。", [("6月30日前", "2023-06-30", None, None, True)]),
        ("每年年底前完成考核。", [("每年年底前", None, "yearly", "12-31", False)]),
        ("2024年底全面完成。", [("2024年底", "2024-12-31", None, None, False)]),
        ("2023年6月30日前完成整改。", [("2023年6月30日前", "2023-06-30", None, None, False)]),
        ("到2025年,实现全覆盖。", [("到2025年", "2025-12-31", None, None, False)]),
        ("9月底前完成摸排。", [("9月底前", "2023-09-30", None, None, True)]),
        ("每年3月10日前上报。", [("每年3月10日前", None, "yearly", "03-10", False)]),
        ("每月5日前报送进展。", [("每月5日前", None, "monthly", None, False)]),
        ("年底前完成。", [("年底前", "2023-12-31", None, None, True)]),
        ("1月31日前完成。", [("1月31日前", "2024-01-31", None, None, True)]),
    ],
)
def test_deadlines(text, expected):
    assert deadlines(text) == expected


def test_deadline_without_document_year_keeps_month_day():
    assert deadlines("6月30日前报送。", None) == [("6月30日前", None, None, "06-30", False)]


@pytest.mark.parametrize("text", ["2022年底人均纯收入11100元。", "2022年,全县龙头企业绑定合作社达到100%。", "2022-2024年巩固提升。", "3年内扣减。"])
def test_not_deadlines(text):
    assert deadlines(text, "2023-08-16") == []
