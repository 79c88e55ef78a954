"""Each early-warning rule on both sides of its threshold, against the shipped rule files."""

import textwrap
from msgspec.structs import fields

import pytest

from services.alerts.model import HouseholdFacts, PeriodRecord, VillageFacts
from services.alerts.rules import (
    RULES_ROOT,
    evaluate_household,
    evaluate_village,
    load_rule_set,
    period_year,
    rule_set_for,
)

YAOAN_VILLAGE = "532325101201"  # a village of 姚安县 (Yunnan)
BAIYIN_VILLAGE = "620402101201"  # a village of 白银市 (Gansu)


def household(category="脱贫户", *, village=YAOAN_VILLAGE, period="2023", previous=None,
              no_labour_capacity=False, **record):
    return HouseholdFacts(
        household_id=1, household_no="5323251012010001", county_code=village[:6] + "000000",
        township_code=village[:9] + "000", village_code=village, category=category, members=4,
        no_labour_capacity=no_labour_capacity, under_assistance=False,
        record=PeriodRecord(period=period, **record), previous=previous)


def ids(facts, rule_set=None):
    return {f.rule_id for f in evaluate_household(facts, rule_set or rule_set_for(facts))}


def one(facts, rule_id, rule_set=None):
    found = [f for f in evaluate_household(facts, rule_set or rule_set_for(facts)) if f.rule_id == rule_id]
    return found[0] if found else None


def all_shipped_rule_sets():
    for path in sorted(RULES_ROOT.glob("*/*.yaml")):
        region = path.parent.name
        yield load_rule_set("110000000000" if region == "default" else region, int(path.stem))


# --- income against the monitoring line (Yunnan 2023: 8050) -------------------------

def test_income_below_yunnan_2023_line_trips_at_8049_not_at_8050():
    finding = one(household(per_capita_income=8049), "income_below_line")
    assert finding is not None
    assert finding.severity == "critical" and finding.cause == "income"
    assert finding.route_to == ("township", "rural_revitalization")
    assert finding.detail["monitoring_line"] == 8050 and finding.detail["monitoring_line_year"] == 2023
    assert finding.detail["rule_version"].startswith("532325000000/2022.yaml@2023#")
    assert finding.detail["period"] == "2023" and finding.source
    assert one(household(per_capita_income=8050), "income_below_line") is None


@pytest.mark.parametrize("period, line", [("2024-05", 8700), ("2025", 8700), ("2022", 6000)])
def test_the_line_follows_the_period_year(period, line):
    assert one(household(period=period, per_capita_income=line - 1), "income_below_line") is not None
    assert one(household(period=period, per_capita_income=line), "income_below_line") is None


# --- county averages of 姚安 (seed 000): 13411 脱贫户, 9904 监测对象 ------------------------

@pytest.mark.parametrize("category, average", [
    ("脱贫户", 13411), ("脱贫不稳定户", 9904), ("边缘易致贫户", 9904), ("突发严重困难户", 9904)])
def test_income_below_the_county_average_by_category(category, average):
    finding = one(household(category, period="2022", per_capita_income=average - 1), "income_below_county_average")
    assert finding is not None and finding.detail["threshold"] == average
    assert one(household(category, period="2022", per_capita_income=average), "income_below_county_average") is None


def test_county_average_rule_is_not_for_ordinary_households():
    assert "income_below_county_average" not in ids(household("一般农户", period="2022", per_capita_income=7000))


# --- 白银 两类群体 (seed 004): below 8000, or falling ---------------------------------------

def test_baiyin_below_8000_for_poverty_alleviated_households_only():
    assert "income_below_8000" in ids(household("脱贫户", village=BAIYIN_VILLAGE, per_capita_income=7999))
    assert "income_below_8000" in ids(household("脱贫不稳定户", village=BAIYIN_VILLAGE, per_capita_income=7999))
    assert "income_below_8000" not in ids(household("脱贫户", village=BAIYIN_VILLAGE, per_capita_income=8000))
    assert "income_below_8000" not in ids(household("一般农户", village=BAIYIN_VILLAGE, per_capita_income=7999))
    assert "income_below_8000" not in ids(household("脱贫户", per_capita_income=7999))  # not in 姚安


def test_baiyin_any_fall_is_the_second_group():
    before = PeriodRecord(period="2022", per_capita_income=12000)
    falling = household(village=BAIYIN_VILLAGE, per_capita_income=11999, previous=before)
    finding = one(falling, "income_falling")
    assert finding is not None and finding.detail["previous_per_capita_income"] == 12000
    assert one(household(village=BAIYIN_VILLAGE, per_capita_income=12000, previous=before), "income_falling") is None


@pytest.fixture
def fall_rules(tmp_path):
    (tmp_path / "default").mkdir()
    (tmp_path / "default" / "2023.yaml").write_text(textwrap.dedent("""
        region: default
        year: 2023
        source: 测试
        routes: {township: [乡人民政府], rural_revitalization: [乡村振兴局]}
        always_route_to: [township]
        rules:
          - {id: income_fall_20, name: 收入下降超过20%, condition: {kind: income_fall, share: 0.2},
             severity: warning, cause: income, route_to: [rural_revitalization], source: 测试}
    """), encoding="utf-8")
    return load_rule_set("default", 2023, root=tmp_path)


@pytest.mark.parametrize("now, trips", [(8100, False), (8000, False), (7900, True)])
def test_income_fall_above_a_20_percent_share(fall_rules, now, trips):
    before = PeriodRecord(period="2022", per_capita_income=10000)
    facts = household(per_capita_income=now, previous=before)
    # 10000 → 8100 is a 19% fall, → 8000 exactly 20% (not more), → 7900 21%
    assert (one(facts, "income_fall_20", fall_rules) is not None) is trips


def test_income_fall_needs_both_years(fall_rules):
    assert one(household(per_capita_income=1000), "income_fall_20", fall_rules) is None
    no_income_before = PeriodRecord(period="2022")
    assert one(household(per_capita_income=1000, previous=no_income_before), "income_fall_20", fall_rules) is None
    before = PeriodRecord(period="2022", per_capita_income=10000)
    assert one(household(previous=before), "income_fall_20", fall_rules) is None


# --- rigid expenses: 5000 for 脱贫户 and 监测对象, 20000 for 一般农户 ----------------------------

@pytest.mark.parametrize("category, below, above", [
    ("脱贫户", 4999, 5001), ("边缘易致贫户", 4999, 5001), ("突发严重困难户", 5000, 5001), ("一般农户", 19999, 20001)])
def test_medical_expense_by_category(category, below, above):
    finding = one(household(category, medical_expense=above), "medical_expense_high")
    assert finding is not None and finding.route_to == ("township", "medical") and finding.cause == "medical"
    assert one(household(category, medical_expense=below), "medical_expense_high") is None


def test_education_expense_goes_to_education():
    finding = one(household(education_expense=5001), "education_expense_high")
    assert finding.route_to == ("township", "education")
    assert one(household(education_expense=5000), "education_expense_high") is None


def test_disaster_and_accident_losses_add_up():
    assert one(household(disaster_loss=3000, accident_loss=2500), "disaster_accident_loss_high").detail["total"] == 5500
    assert one(household(disaster_loss=3000, accident_loss=2000), "disaster_accident_loss_high") is None
    assert one(household(accident_loss=5001), "disaster_accident_loss_high").route_to == ("township", "civil_affairs")
    assert one(household("一般农户", disaster_loss=19000, accident_loss=1000), "disaster_accident_loss_high") is None


# --- zero employment ---------------------------------------------------------------------

@pytest.mark.parametrize("labourers, employed, no_labour, trips", [
    (2, 0, False, True), (2, 1, False, False), (0, 0, False, False), (2, 0, True, False),
    (None, 0, False, False), (2, None, False, False)])
def test_zero_employment(labourers, employed, no_labour, trips):
    facts = household(labourers=labourers, employed=employed, no_labour_capacity=no_labour)
    finding = one(facts, "zero_employment")
    assert (finding is not None) is trips
    if trips:
        assert finding.route_to == ("township", "employment")


# --- 三保障 and drinking water: each flag its own rule and route --------------------------

@pytest.mark.parametrize("flag, rule_id, route", [
    ("compulsory_education_ok", "compulsory_education_missing", "education"),
    ("basic_medical_ok", "basic_medical_missing", "medical"),
    ("housing_ok", "housing_unsafe", "housing"),
    ("drinking_water_ok", "drinking_water_unsafe", "water")])
def test_each_guarantee_flag(flag, rule_id, route):
    assert ids(household(**{flag: False})) == {rule_id}
    finding = one(household(**{flag: False}), rule_id)
    assert finding.route_to == ("township", route) and finding.severity == "critical"
    assert ids(household(**{flag: True})) == set()
    assert ids(household(**{flag: None})) == set()


# --- missing data never trips ------------------------------------------------------------

@pytest.mark.parametrize("category", ["脱贫户", "脱贫不稳定户", "边缘易致贫户", "突发严重困难户", "一般农户"])
def test_an_empty_record_trips_nothing_in_any_shipped_rule_set(category):
    empty = household(category, previous=PeriodRecord(period="2022"))
    village = VillageFacts(village_code=YAOAN_VILLAGE, county_code="532325000000", township_code="532325101000",
                           rural_population=None, monitored_households=10, monitored_people=400,
                           poverty_alleviated_people=900)
    for rule_set in all_shipped_rule_sets():
        assert evaluate_household(empty, rule_set) == [], rule_set.version
        assert evaluate_village(village, rule_set) == [], rule_set.version


def test_a_record_with_every_field_set_can_trip_every_household_rule():
    """Guards the test above: the empty record is quiet because of None, not because nothing works."""
    values = {f.name: (False if "ok" in f.name else 1) for f in fields(PeriodRecord) if f.name != "period"}
    values.update(per_capita_income=1, medical_expense=99999, education_expense=99999, disaster_loss=99999,
                  labourers=2, employed=0)
    facts = household(**values, previous=PeriodRecord(period="2022", per_capita_income=99999))
    household_rules = {r.id for r in rule_set_for(facts).rules if r.condition.scope == "household"}
    assert ids(facts) == household_rules


# --- villages: 3%, and 5% with at least 1000 people (seed 000 二(二)) ------------------------

def village(population, monitored_people, poverty_alleviated=None):
    return VillageFacts(village_code=YAOAN_VILLAGE, county_code="532325000000", township_code="532325101000",
                        rural_population=population, monitored_households=monitored_people // 3,
                        monitored_people=monitored_people, poverty_alleviated_people=poverty_alleviated)


def village_ids(facts, year=2023):
    return {f.rule_id for f in evaluate_village(facts, load_rule_set(facts.village_code, year))}


def test_monitored_people_above_3_percent():
    assert "village_monitored_share" not in village_ids(village(1000, 30))  # exactly 3%: not "超过"
    assert "village_monitored_share" in village_ids(village(1000, 31))
    finding = evaluate_village(village(1000, 31), load_rule_set(YAOAN_VILLAGE, 2023))[0]
    assert finding.route_to == ("township", "rural_revitalization") and finding.cause == "village"
    assert finding.detail["ratio"] == 0.031


def test_five_percent_and_1000_people_both_needed():
    # 950 脱贫 + 50 监测 = 1000 people of 20000: 5% exactly (达5%及以上) and 1000 (1000人以上)
    assert "village_concentration" in village_ids(village(20000, 50, 950))
    assert "village_concentration" not in village_ids(village(20001, 50, 950))  # 4.9998%
    assert "village_concentration" not in village_ids(village(19980, 50, 949))  # 5%, but 999 people
    assert "village_concentration" not in village_ids(village(20000, 50, None))  # 脱贫人口 unknown


def test_village_rules_only_where_the_county_has_them():
    assert village_ids(village(1000, 100, 2000)) == {"village_monitored_share", "village_concentration"}
    other = VillageFacts("620402101201", "620402000000", "620402101000", 1000, 30, 100, 2000)
    assert evaluate_village(other, load_rule_set(other.village_code, 2023)) == []


def test_household_and_village_rules_do_not_mix():
    rule_set = load_rule_set(YAOAN_VILLAGE, 2023)
    assert not {"village_monitored_share", "village_concentration"} & ids(household(per_capita_income=1), rule_set)


def test_period_year():
    assert period_year("2023-05") == 2023 and period_year("2024") == 2024
    with pytest.raises(ValueError):
        period_year("五月")
