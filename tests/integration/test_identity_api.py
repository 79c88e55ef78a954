"""The tasks API's identity routes against a real PostgreSQL: login, tokens,
authority by role, unit and jurisdiction, and the audit row of every change."""

import io
import time
from datetime import datetime
from typing import get_args

import jwt
import psycopg
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from services.common import excel_http
from services.common.auth import issue_token
from services.common.config import get_settings
from services.demo import load_demo
from services.tasks.schemas import UNIT_KIND_LABELS, UnitKind

pytestmark = pytest.mark.integration

PASSWORD = "xianjie-demo"


@pytest.fixture
def client(database_url, monkeypatch):
    monkeypatch.setenv("XIANJIE_DEMO_PASSWORD", PASSWORD)
    get_settings.cache_clear()
    load_demo(database_url, with_policies=False)
    from services.tasks.api import app

    with TestClient(app) as c:
        yield c


def login(client, username, password=PASSWORD) -> dict:
    r = client.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def sheet(r):
    assert r.status_code == 200, r.text
    assert "attachment" in r.headers["content-disposition"]
    return load_workbook(io.BytesIO(r.content)).active


def audit_rows(client, headers, **filters) -> list[dict]:
    r = client.get("/api/audit", headers=headers, params=filters)
    assert r.status_code == 200, r.text
    return r.json()


def test_login_right_and_wrong(client):
    r = client.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0 and body["access_token"]
    assert client.post("/api/auth/login", json={"username": "admin", "password": "wrong"}).status_code == 401
    assert client.post("/api/auth/login", json={"username": "nobody", "password": PASSWORD}).status_code == 401


def test_repeated_failed_logins_are_refused_for_a_while(client, database_url):
    wrong = {"username": "yaoan_rsj", "password": "not-the-password"}
    for _ in range(get_settings().login_max_failures):
        assert client.post("/api/auth/login", json=wrong).status_code == 401
    r = client.post("/api/auth/login", json={"username": "yaoan_rsj", "password": PASSWORD})
    assert r.status_code == 429, "even the right password waits once the limit is reached"
    assert "请" in r.json()["detail"] and 0 < int(r.headers["Retry-After"]) <= get_settings().login_window_s
    assert client.post("/api/auth/login", json={"username": "yaoan_nync", "password": PASSWORD}).status_code == 200
    with psycopg.connect(database_url) as conn:  # the window passes
        conn.execute("UPDATE common.login_failures SET at = at - interval '1 hour'")
    login(client, "yaoan_rsj")
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM common.login_failures WHERE username = 'yaoan_rsj'").fetchone()[0] == 0


def test_responses_carry_security_headers(client):
    r = client.get("/api/me", headers=login(client, "admin"))
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] == "no-referrer" and r.headers["Cache-Control"] == "no-store"
    assert client.get("/healthz").headers["X-Frame-Options"] == "DENY"


def test_login_with_missing_fields_names_them(client):
    r = client.post("/api/auth/login", json={"username": "admin"})
    assert r.status_code == 422
    assert {"field": "password", "reason": "Field required", "message": "必填"} in r.json()["errors"]


def test_every_api_route_needs_a_token(client):
    for path in ("/api/me", "/api/users", "/api/units", "/api/audit", "/api/regions"):
        r = client.get(path)
        assert r.status_code == 401, path


def test_expired_and_forged_tokens_are_refused(client):
    expired, _ = issue_token(1, "admin", now=time.time() - 10_000, ttl_s=60)
    r = client.get("/api/me", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and "过期" in r.json()["detail"]
    forged = jwt.encode({"sub": "1", "exp": int(time.time()) + 600}, "not-the-secret", "HS256")
    r = client.get("/api/me", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and "无效" in r.json()["detail"]
    r = client.get("/api/me", headers={"Authorization": "Bearer garbage"})
    assert r.status_code == 401


def test_unit_staff_is_refused_office_routes(client):
    staff = login(client, "yaoan_rsj")
    assert client.get("/api/me", headers=staff).json()["unit_name"] == "县人力资源和社会保障局"
    assert client.get("/api/users", headers=staff).status_code == 403
    assert client.get("/api/audit", headers=staff).status_code == 403
    r = client.post("/api/units", headers=staff, json={"name": "县新设局", "region_code": "532325000000"})
    assert r.status_code == 403


def test_county_office_sees_and_changes_only_its_jurisdiction(client):
    office = login(client, "yaoan_office")
    units = client.get("/api/units", headers=office, params={"limit": 1000}).json()
    assert units and all(u["region_code"].startswith("532325") for u in units)
    users = client.get("/api/users", headers=office).json()
    assert {u["username"] for u in users} >= {"yaoan_rsj", "dongchuan"}
    assert "qingyang_office" not in {u["username"] for u in users}

    qingyang_unit = client.get("/api/units", headers=login(client, "admin"), params={"region": "621000000000", "limit": 1}).json()[0]
    r = client.post("/api/users", headers=office, json={
        "username": "intruder", "full_name": "越权", "unit_id": qingyang_unit["id"], "roles": ["unit_staff"], "password": "12345678"})
    assert r.status_code == 403
    qingyang_user = next(u for u in client.get("/api/users", headers=login(client, "admin")).json() if u["username"] == "qingyang_office")
    r = client.patch(f"/api/users/{qingyang_user['id']}", headers=office, json={"disabled": True})
    assert r.status_code == 404
    r = client.post("/api/units", headers=office, json={"name": "市新设局", "region_code": "621000000000"})
    assert r.status_code == 403


def test_user_creation_and_disabling_are_audited_and_take_effect(client):
    office = login(client, "yaoan_office")
    unit = client.get("/api/units", headers=office, params={"q": "县民政局"}).json()[0]
    r = client.post("/api/users", headers=office, json={
        "username": "mzj_staff", "full_name": "民政局经办", "unit_id": unit["id"], "roles": ["unit_staff"], "password": "s3cret-pass"})
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    created = audit_rows(client, office, entity="user", entity_id=str(user_id), action="user.create")
    assert len(created) == 1 and created[0]["after"]["username"] == "mzj_staff" and created[0]["username"] == "yaoan_office"
    assert "password" not in str(created[0]["after"]) or created[0]["after"].get("password") is None

    token = login(client, "mzj_staff", "s3cret-pass")
    assert client.get("/api/me", headers=token).status_code == 200
    r = client.patch(f"/api/users/{user_id}", headers=office, json={"disabled": True})
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert client.get("/api/me", headers=token).status_code == 401, "a disabled user's token must stop working"
    assert client.post("/api/auth/login", json={"username": "mzj_staff", "password": "s3cret-pass"}).status_code == 401
    updated = audit_rows(client, office, entity="user", entity_id=str(user_id), action="user.update")
    assert updated[0]["before"]["disabled"] is False and updated[0]["after"]["disabled"] is True


def test_users_and_the_audit_log_export_to_excel(client, monkeypatch):
    office = login(client, "yaoan_office")
    unit = client.get("/api/units", headers=office, params={"q": "县民政局"}).json()[0]
    r = client.post("/api/users", headers=office, json={
        "username": "mzj_head", "full_name": "=民政局长", "unit_id": unit["id"], "roles": ["unit_staff", "unit_head"],
        "password": "s3cret-pass"})
    user_id = r.json()["id"]
    client.patch(f"/api/users/{user_id}", headers=office, json={"disabled": True})

    ws = sheet(client.get("/api/users", headers=office, params={"format": "xlsx"}))
    assert [c.value for c in ws[2]] == ["序号", "用户名", "姓名", "单位", "角色", "状态", "创建时间"]
    rows = {r[1]: r for r in ws.iter_rows(min_row=3, values_only=True)}
    assert set(rows) == {u["username"] for u in client.get("/api/users", headers=office, params={"limit": 1000}).json()}
    assert "qingyang_office" not in rows, "the office's jurisdiction only"
    assert rows["mzj_head"][2:4] == ("=民政局长", "县民政局") and rows["mzj_head"][5] == "已停用"
    assert set(rows["mzj_head"][4].split("、")) == {"单位经办人", "单位负责人"}
    assert rows["yaoan_rsj"][5] == "正常"

    ws = sheet(client.get("/api/audit", headers=office, params={"format": "xlsx", "entity": "user",
                                                                  "entity_id": str(user_id)}))
    assert [c.value for c in ws[2]] == ["序号", "时间", "用户", "操作", "对象", "对象编号", "服务", "修改前", "修改后",
                                        "请求编号"]
    assert [r[3] for r in ws.iter_rows(min_row=3, values_only=True)] == ["user.update", "user.create"], "newest first"
    update = next(ws.iter_rows(min_row=3, max_row=3, values_only=True))
    assert update[2] == "yaoan_office" and '"disabled": true' in update[8] and '"disabled": false' in update[7]
    assert isinstance(update[1], datetime)

    ws = sheet(client.get("/api/units", headers=office, params={"format": "xlsx", "q": "县民政局"}))
    assert [c.value for c in ws[2]] == ["序号", "编号", "名称", "简称、曾用名", "类型", "区划代码", "状态"]
    assert [r[2] for r in ws.iter_rows(min_row=3, values_only=True)] == ["县民政局"]
    assert next(ws.iter_rows(min_row=3, values_only=True))[4:] == ("部门", "532325000000", "已确认")
    assert set(UNIT_KIND_LABELS) == set(get_args(UnitKind)), "every kind of unit has its Chinese name"

    monkeypatch.setattr(excel_http, "EXPORT_MAX_ROWS", 2)
    r = client.get("/api/audit", headers=office, params={"format": "xlsx"})
    assert r.status_code == 422 and "超过上限 2 行" in r.json()["detail"]
    assert "format" in {e["field"] for e in client.get("/api/users", headers=office, params={"format": "pdf"}).json()["errors"]}
    assert client.get("/api/audit", headers=login(client, "yaoan_rsj"), params={"format": "xlsx"}).status_code == 403


def test_bad_user_input_gets_field_errors_and_writes_nothing(client):
    office = login(client, "yaoan_office")
    before = len(client.get("/api/users", headers=office).json())
    r = client.post("/api/users", headers=office, json={"username": "a b", "full_name": "", "unit_id": 0, "roles": ["king"], "password": "short"})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"username", "full_name", "unit_id", "password"} <= fields and any(f.startswith("roles") for f in fields)
    r = client.post("/api/users", headers=office, json={"username": "yaoan_rsj", "full_name": "重名", "unit_id": 1, "roles": ["unit_staff"], "password": "12345678"})
    assert r.status_code in (403, 409)
    assert len(client.get("/api/users", headers=office).json()) == before
    assert client.post("/api/units", headers=office, json={"name": "县新局", "region_code": "12"}).status_code == 422


def test_unit_creation_is_audited_and_duplicates_refused(client):
    office = login(client, "yaoan_office")
    r = client.post("/api/units", headers=office, json={"name": "县数据局", "aliases": ["县数局"], "region_code": "532325000000"})
    assert r.status_code == 201, r.text
    unit_id = r.json()["id"]
    assert client.post("/api/units", headers=office, json={"name": "县数据局", "region_code": "532325000000"}).status_code == 409
    rows = audit_rows(client, office, entity="unit", entity_id=str(unit_id))
    assert [row["action"] for row in rows] == ["unit.create"]
    resolved = client.post("/api/units/resolve", headers=office, json={"region_code": "532325000000", "names": ["县数局", "县卫健局", "各乡镇党委、政府", "火星局"]}).json()
    assert [x["kind"] for x in resolved] == ["unit", "unit", "group", "unknown"]
    assert resolved[0]["unit_ids"] == [unit_id]
    assert len(resolved[2]["unit_ids"]) == 18


def test_login_is_audited_and_audit_rows_cannot_be_changed(client, database_url):
    import psycopg

    admin = login(client, "admin")
    rows = audit_rows(client, admin, action="auth.login", username="admin")
    assert rows
    with psycopg.connect(database_url) as conn:
        with pytest.raises(psycopg.errors.RaiseException):
            conn.execute("UPDATE common.audit_log SET action = 'x'")
    with psycopg.connect(database_url) as conn:
        with pytest.raises(psycopg.errors.RaiseException):
            conn.execute("DELETE FROM common.audit_log")
