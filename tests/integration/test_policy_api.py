"""Policy ingestion through the API against a real PostgreSQL: upload, review,
publish (idempotent), amended versions, refusals and bad input."""

import psycopg
import pytest
from fastapi.testclient import TestClient

from services.common.config import get_settings
from services.demo import load_demo

pytestmark = pytest.mark.integration

PASSWORD = "xianjie-demo"
YAOAN = "532325000000"
DOC = """姚安县2023年巩固脱贫成果工作要点
一、稳定就业
(一)开展技能培训。全年培训脱贫劳动力1000人次以上。(牵头单位:县人社局;责任单位:县人社局、各乡镇党委、政府)
(二)开发公益岗位。2023年6月30日前完成岗位开发。(牵头单位:县人社局;责任单位:县财政局、县火星局)
二、产业发展
(一)壮大特色产业。(牵头单位:县农业农村局;责任单位:县农业农村局、各乡镇党委、政府)
"""


@pytest.fixture
def client(database_url, monkeypatch):
    monkeypatch.setenv("XIANJIE_DEMO_PASSWORD", PASSWORD)
    get_settings.cache_clear()
    load_demo(database_url, with_policies=False)
    from services.tasks.api import app

    with TestClient(app) as c:
        yield c


def login(client, username) -> dict:
    r = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def upload(client, headers, text=DOC, name="要点.txt", encoding="utf-8"):
    return client.post("/api/policies", headers=headers, files={"file": (name, text.encode(encoding), "text/plain")})


def count(dsn, sql) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchone()[0]


def test_upload_review_publish_and_publish_again(client, database_url):
    office = login(client, "yaoan_office")
    r = upload(client, office)
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["status"] == "draft" and draft["measure_count"] == 3
    assert draft["proposed_units"] == ["县火星局"]
    first = draft["measures"][0]
    assert first["lead_units"] == ["县人社局"]
    assert [x["kind"] for x in first["resolved"]["responsible_units"]] == ["unit", "group"]

    r = client.post(f"/api/policies/{draft['id']}/publish", headers=office)
    assert r.status_code == 409 and "县火星局" in r.json()["detail"]["message"]
    assert count(database_url, "SELECT count(*) FROM tasks.tasks") == 0

    r = client.post(f"/api/policies/{draft['id']}/units/confirm", headers=office, json={"name": "县火星局"})
    assert r.status_code == 200 and r.json()["proposed_units"] == []

    second = draft["measures"][1]
    r = client.patch(f"/api/policies/{draft['id']}/measures/{second['id']}", headers=office,
                     json={"lead_units": ["县人社局", "县财政局"]})
    assert r.status_code == 200
    assert r.json()["measures"][1]["lead_units"] == ["县人社局", "县财政局"]

    r = client.post(f"/api/policies/{draft['id']}/publish", headers=office)
    assert r.status_code == 201, r.text
    result = r.json()
    assert result["tasks_created"] == 3
    task = next(t for t in result["tasks"] if t["ref"] == "一.(二)")
    assert task["due_at"] == "2023-06-30"
    assert len(task["lead_unit_ids"]) == 2

    again = client.post(f"/api/policies/{draft['id']}/publish", headers=office)
    assert again.status_code == 200 and again.json()["tasks_created"] == 0
    assert count(database_url, "SELECT count(*) FROM tasks.tasks") == 3
    assert count(database_url, "SELECT count(*) FROM tasks.outbox WHERE envelope->>'type' = 'task.published'") == 3
    assert count(database_url, "SELECT count(*) FROM common.audit_log WHERE action = 'policy.publish'") == 1
    r = client.patch(f"/api/policies/{draft['id']}/measures/{second['id']}", headers=office, json={"title": "改"})
    assert r.status_code == 409


def test_merge_and_split(client):
    office = login(client, "yaoan_office")
    draft = upload(client, office).json()
    ids = [m["id"] for m in draft["measures"]]
    r = client.post(f"/api/policies/{draft['id']}/merge", headers=office, json={"measure_ids": [ids[0], ids[2]]})
    assert r.status_code == 422 and "相邻" in r.json()["detail"]
    merged = client.post(f"/api/policies/{draft['id']}/merge", headers=office, json={"measure_ids": ids[:2]}).json()
    assert merged["measure_count"] == 2
    assert merged["measures"][0]["responsible_units"] == ["县人社局", "各乡镇党委、政府", "县财政局", "县火星局"]
    split = client.post(f"/api/policies/{draft['id']}/split", headers=office, json={
        "measure_id": merged["measures"][0]["id"],
        "parts": [{"title": "技能培训", "text": "开展技能培训"}, {"title": "公益岗位", "text": "开发公益岗位"}]}).json()
    assert [m["title"] for m in split["measures"]] == ["技能培训", "公益岗位", "壮大特色产业"]


def test_refusals_for_other_roles_and_jurisdictions(client):
    office = login(client, "yaoan_office")
    draft = upload(client, office).json()
    staff = login(client, "yaoan_rsj")
    assert upload(client, staff).status_code == 403
    assert client.post(f"/api/policies/{draft['id']}/publish", headers=staff).status_code == 403
    other = login(client, "qingyang_office")
    assert client.get(f"/api/policies/{draft['id']}", headers=other).status_code == 404
    assert client.post(f"/api/policies/{draft['id']}/publish", headers=other).status_code == 404
    r = client.post("/api/policies", headers=other, data={"region_code": YAOAN},
                    files={"file": ("a.txt", DOC.encode(), "text/plain")})
    assert r.status_code == 403


def test_bad_uploads_get_clear_errors_and_store_nothing(client, database_url):
    office = login(client, "yaoan_office")
    big = upload(client, office, text="一" * (6 * 1024 * 1024 // 3 + 10))
    assert big.status_code == 413
    pdf = upload(client, office, name="要点.pdf")
    assert pdf.status_code == 415 and ".pdf" in pdf.json()["detail"]
    plain = upload(client, office, text="这是一段没有任何单位标注的文字。\n第二段也没有。")
    assert plain.status_code == 422 and plain.json()["detail"]
    empty = upload(client, office, text="")
    assert empty.status_code == 422
    assert client.post("/api/policies", headers=office).status_code == 422
    assert count(database_url, "SELECT count(*) FROM tasks.policy_documents") == 0
    gbk = upload(client, office, encoding="gb18030", name="gbk.txt")
    assert gbk.status_code == 201 and gbk.json()["measure_count"] == 3


def test_amended_version_shows_changes_and_supersedes(client):
    office = login(client, "yaoan_office")
    first = upload(client, office).json()
    client.post(f"/api/policies/{first['id']}/units/confirm", headers=office, json={"name": "县火星局"})
    assert client.post(f"/api/policies/{first['id']}/publish", headers=office).status_code == 201
    amended_text = DOC.replace("县财政局、县火星局", "县财政局").replace(
        "(一)壮大特色产业。(牵头单位:县农业农村局;责任单位:县农业农村局、各乡镇党委、政府)\n", ""
    )
    amended = upload(client, office, text=amended_text).json()
    assert amended["amends_id"] == first["id"]
    changes = client.get(f"/api/policies/{amended['id']}/changes", headers=office).json()["changes"]
    kinds = sorted((c["kind"], c["title"]) for c in changes)
    assert kinds == [("changed", "开发公益岗位"), ("removed", "壮大特色产业")]
    changed = next(c for c in changes if c["kind"] == "changed")
    assert changed["fields"] == ["responsible_units"] and changed["after"]["responsible_units"] == ["县财政局"]
    assert client.post(f"/api/policies/{amended['id']}/publish", headers=office).status_code == 201
    docs = {d["id"]: d["status"] for d in client.get("/api/policies", headers=office).json()}
    assert docs[first["id"]] == "superseded" and docs[amended["id"]] == "published"


def test_a_pasted_table_splits_names_run_together_by_the_registry(client):
    """A cell that lost its line break (县人社局县财政局) is split because both are units of the region."""
    table = "序号\n任务名称\n牵头单位\n责任单位\n完成时限\n1\n开发公益岗位\n县人社局\n县人社局县财政局\n2023年6月30日前\n"
    r = upload(client, login(client, "yaoan_office"), text=table, name="分工表.txt")
    assert r.status_code == 201, r.text
    [measure] = r.json()["measures"]
    assert measure["responsible_units"] == ["县人社局", "县财政局"]
