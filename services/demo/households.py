"""A synthetic county for the demo: households in 姚安县's demo villages with
realistic distributions (脱贫户 about a third, 监测对象 a few per cent, the rest
一般农户), one annual record each and last year's for some, so that the early
warning has real work on first start. Deterministic: the same households every time."""

from __future__ import annotations

import random

import psycopg

from services.alerts import register

COUNTY = "532325000000"
PERIOD = "2023"
CATEGORY_WEIGHTS = (("一般农户", 58), ("脱贫户", 36), ("脱贫不稳定户", 2), ("边缘易致贫户", 3), ("突发严重困难户", 1))
HEADS = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = ("国华", "建国", "志强", "秀英", "桂兰", "玉兰", "明", "军", "丽", "海", "文", "兵", "云", "芳", "永福", "正荣")


def _record(rng: random.Random, category: str, members: int, labourers: int) -> dict:
    base = {"一般农户": 16000, "脱贫户": 13000}.get(category, 9000)
    income = max(1500.0, rng.lognormvariate(0, 0.35) * base)
    employed = 0 if labourers and rng.random() < 0.06 else rng.randint(min(1, labourers), labourers) if labourers else 0
    return {
        "period": PERIOD,
        "per_capita_income": round(income, 2),
        "wage_income": round(income * members * rng.uniform(0.4, 0.7), 2),
        "business_income": round(income * members * rng.uniform(0.1, 0.3), 2),
        "property_income": round(income * members * rng.uniform(0.0, 0.05), 2),
        "transfer_income": round(income * members * rng.uniform(0.05, 0.2), 2),
        "medical_expense": round(rng.choice([0, 0, 0, 800, 2500, 6000, 12000, 26000]) * rng.random(), 2),
        "labourers": labourers,
        "employed": employed,
        "compulsory_education_ok": rng.random() > 0.005,
        "basic_medical_ok": rng.random() > 0.01,
        "housing_ok": rng.random() > 0.01,
        "drinking_water_ok": rng.random() > 0.01,
    }


def load_households(conn: psycopg.Connection, count: int = 1500) -> int:
    """Register `count` households (once: nothing is added when the county already has some)."""
    if conn.execute("SELECT 1 FROM alerts.households WHERE county_code = %s LIMIT 1", (COUNTY,)).fetchone():
        return 0
    villages = [r["code"] for r in conn.execute(
        "SELECT code FROM common.regions WHERE level = 'village' AND code LIKE %s ORDER BY code", (COUNTY[:6] + "%",))]
    if not villages:
        return 0
    rng = random.Random(2023)
    names, weights = zip(*CATEGORY_WEIGHTS)
    for i in range(count):
        village = villages[i % len(villages)]
        category = rng.choices(names, weights)[0]
        members = rng.choice((1, 2, 3, 3, 4, 4, 4, 5, 5, 6))
        labourers = 0 if rng.random() < 0.05 else rng.randint(1, min(members, 3))
        household = register.save_household(conn, actor=None, request_id="demo", data={
            "household_no": f"{village}{i:04d}", "village_code": village,
            "head_name": rng.choice(HEADS) + rng.choice(GIVEN), "head_id_number": None, "phone": None,
            "category": category, "members": members, "labourers": labourers,
            "no_labour_capacity": labourers == 0, "under_assistance": category in ("脱贫不稳定户", "突发严重困难户"),
            "member_list": [],
        })
        record = _record(rng, category, members, labourers)
        if rng.random() < 0.2:
            last_year = {**record, "period": str(int(PERIOD) - 1),
                         "per_capita_income": round(record["per_capita_income"] * rng.uniform(0.9, 1.6), 2)}
            register.save_record(conn, actor=None, household_id=household["id"], record=last_year, request_id="demo")
        register.save_record(conn, actor=None, household_id=household["id"], record=record, request_id="demo")
    return count
