"""Household data entry through the alerts API: validation in Chinese naming the
field, jurisdiction, masking everywhere, audited unmasking, and one outbox event
per accepted change (none for a repeat)."""

import psycopg
import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration

PASSWORD = "xianjie-demo"
VILLAGE = "532325100201"  # 栋川东村, 栋川镇
OTHER_TOWNSHIP_VILLAGE = "532325101201"  # a village of 光禄镇
HEAD_ID = "11010519491231002X"
HOUSEHOLD = {
    "household_no": "5323251002010001", "village_code": VILLAGE, "head_name": "张三", "head_id_number": HEAD_ID,
    "phone": "13812345678", "category": "脱贫户", "members": 2, "labourers": 1,
    "member_list": [
        {"name": "张三", "id_number": HEAD_ID, "relation": "户主", "labour_skill": "普通劳动力", "health": "健康"},
        {"name": "李四", "id_number": "110105195203150021", "relation": "配偶"},
    ],
}


@pytest.fixture
def client(database_url):
    from services.alerts.api import app

    with TestClient(app) as c:
        yield c


def login(client, username):
    # the tasks API issues tokens; all three APIs accept them
    from services.tasks.api import app as tasks_app

    with TestClient(tasks_app) as t:
        r = t.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def events(dsn) -> list[dict]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT envelope FROM alerts.outbox ORDER BY id")]


def test_register_a_household_and_its_record(client, database_url):
    entry = login(client, "dongchuan_entry")
    r = client.post("/api/households", headers=entry, json=HOUSEHOLD)
    assert r.status_code == 200, r.text
    h = r.json()
    assert h["head_id_number"] == "1101**********002X" and h["phone"] == "138****5678"
    assert h["township_code"] == "532325100000" and h["county_code"] == "532325000000"

    record = {"period": "2023", "per_capita_income": 7900, "wage_income": 10000, "medical_expense": 6000,
              "labourers": 1, "employed": 0, "housing_ok": True, "drinking_water_ok": True}
    r = client.post(f"/api/households/{h['id']}/records", headers=entry, json=record)
    assert r.status_code == 200, r.text
    again = client.post(f"/api/households/{h['id']}/records", headers=entry, json=record)
    assert again.status_code == 200
    types = [e["type"] for e in events(database_url)]
    assert types == ["household.updated", "household.record.saved"], "a repeated record writes no second event"
    payload = events(database_url)[-1]["payload"]
    assert payload["record"]["per_capita_income"] == 7900 and payload["previous"] is None
    assert payload["category"] == "脱贫户" and payload["household_no"] == HOUSEHOLD["household_no"]
    assert events(database_url)[-1]["key"] == VILLAGE, "keyed by village: one replica evaluates a village's rules"

    page = client.get(f"/api/households/{h['id']}", headers=login(client, "yaoan_office")).json()
    assert page["household"]["head_id_number"] == "1101**********002X"
    assert all("*" in m["id_number"] for m in page["members"])
    assert page["records"][0]["period"] == "2023"
    body = str(client.get("/api/households", headers=entry).json())
    assert HEAD_ID not in body and "13812345678" not in body


def test_unmasking_is_for_the_office_and_audited(client, database_url):
    entry = login(client, "dongchuan_entry")
    h = client.post("/api/households", headers=entry, json=HOUSEHOLD).json()
    assert client.get(f"/api/households/{h['id']}/unmasked", headers=entry).status_code == 403
    r = client.get(f"/api/households/{h['id']}/unmasked", headers=login(client, "yaoan_office"))
    assert r.status_code == 200 and r.json()["head_id_number"] == HEAD_ID
    with psycopg.connect(database_url) as conn:
        n = conn.execute("SELECT count(*) FROM common.audit_log WHERE action = 'household.unmask'").fetchone()[0]
    assert n == 1


@pytest.mark.parametrize("change, words", [
    ({"head_id_number": "110105194912310021"}, "校验位"),
    ({"members": 2, "labourers": 3}, "劳动力人数"),
    ({"village_code": "53232510020"}, "12位"),
    ({"category": "富裕户"}, "取值不在允许范围内"),
    ({"members": 3}, "家庭成员列了2人"),
    ({"member_list": [HOUSEHOLD["member_list"][0], {**HOUSEHOLD["member_list"][1], "id_number": HEAD_ID}]}, "重复"),
])
def test_bad_households_get_chinese_reasons_and_store_nothing(client, database_url, change, words):
    r = client.post("/api/households", headers=login(client, "dongchuan_entry"), json={**HOUSEHOLD, **change})
    assert r.status_code == 422
    assert words in str(r.json()["errors"]), r.json()
    assert events(database_url) == []


def test_bad_records_name_each_wrong_field(client, database_url):
    entry = login(client, "dongchuan_entry")
    h = client.post("/api/households", headers=entry, json=HOUSEHOLD).json()
    r = client.post(f"/api/households/{h['id']}/records", headers=entry,
                    json={"period": "2023", "per_capita_income": -5, "medical_expense": -1, "labourers": 1, "employed": 2})
    assert r.status_code == 422
    message = r.json()["errors"][0]["message"]
    assert "人均纯收入不能为负数" in message and "合规自付医疗支出不能为负数" in message and "务工就业人数不能超过" in message
    assert client.post(f"/api/households/{h['id']}/records", headers=entry, json={"period": "2023-13"}).status_code == 422
    assert [e["type"] for e in events(database_url)] == ["household.updated"]


def test_jurisdiction_and_roles(client):
    entry = login(client, "dongchuan_entry")
    r = client.post("/api/households", headers=entry, json={**HOUSEHOLD, "village_code": OTHER_TOWNSHIP_VILLAGE})
    assert r.status_code == 403
    r = client.post("/api/households", headers=entry, json={**HOUSEHOLD, "village_code": "532325100299"})
    assert r.status_code == 422 and "不存在" in r.json()["detail"]
    assert client.post("/api/households", headers=login(client, "yaoan_rsj"), json=HOUSEHOLD).status_code == 403
    h = client.post("/api/households", headers=entry, json=HOUSEHOLD).json()
    assert client.get(f"/api/households/{h['id']}", headers=login(client, "qingyang_office")).status_code == 404
