"""Authority on the data, beyond the role gate of test_authority_matrix.py:

- every operation naming a unit or a region (in its path, query or body) called by each role
  with the caller's own unit, another unit of the same county (光禄镇人民政府) and a unit of
  another county (某县), the status compared with the written table in docs/authority.md
  (`XIANJIE_WRITE_AUTHORITY=1` rewrites that section); lists answered 200 for another
  jurisdiction must hold nothing of it;
- expired, forged (wrong signature) and disabled users' tokens → 401 on routes of every service;
- ID numbers: never whole in any response of any GET operation, for any role, except the two
  unmasking operations of the office, and each of those written to the audit log."""

import io
import os
import re
import time
import zipfile
from dataclasses import dataclass

import jwt
import psycopg
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from test_authority_matrix import APPS, DOC, MISSING_ID, PASSWORD, ROLE_USERS, operations

from services.common.auth import issue_token
from services.common.units import jurisdiction_prefix

pytestmark = pytest.mark.integration

OTHER_COUNTY = "532399000000"  # 某县
SAME_COUNTY_UNIT = "光禄镇人民政府"
SCOPES = ("own", "same_county", "other_county")
SECTION = "## Own unit, another unit of the county, another county (本单位 / 本县其他单位 / 外县)"
POLICY = "姚安县就业帮扶工作要点\n一、稳定就业\n(一)开发公益岗位。(牵头单位:县人社局;责任单位:县财政局)\n"
HEAD_ID = "532325198001010012"  # valid check digits: the household whose numbers must stay masked
MEMBER_ID = "532325198502020024"


@dataclass(frozen=True)
class Scope:
    unit_id: int
    region: str
    village: str


@dataclass
class Resources:
    """What the platform admin created in each scope: a household per village, a user per unit,
    a draft policy document per region (ids by village, unit id, region code)."""

    households: dict[str, int]
    users: dict[int, int]
    documents: dict[str, int]


def call_scoped(s: Scope, tag: str, res: Resources) -> dict[tuple[str, str, str], dict]:
    """Each operation naming a unit or region, or acting on a household, user or document of a
    jurisdiction, as a request for scope `s` (`tag` keeps created names unique)."""
    household, user, document = res.households[s.village], res.users[s.unit_id], res.documents[s.region]
    return {
        ("alerts", "GET", "/api/households/{household_id}"): {"url": f"/api/households/{household}"},
        ("alerts", "GET", "/api/households/{household_id}/alerts"): {"url": f"/api/households/{household}/alerts"},
        ("alerts", "POST", "/api/households/{household_id}/records"): {
            "url": f"/api/households/{household}/records", "json": {"period": "2024", "per_capita_income": 9000}},
        ("tasks", "PATCH", "/api/users/{user_id}"): {"url": f"/api/users/{user}", "json": {"full_name": f"改名{tag}"}},
        ("tasks", "GET", "/api/policies/{document_id}"): {"url": f"/api/policies/{document}"},
        ("tasks", "POST", "/api/policies/{document_id}/units/confirm"): {
            "url": f"/api/policies/{document}/units/confirm", "json": {"name": f"测试{tag}队", "unit_id": s.unit_id}},
        ("tasks", "GET", "/api/units"): {"url": f"/api/units?region={s.region}"},
        ("tasks", "POST", "/api/units"): {"json": {"name": f"测试{tag}工作队", "kind": "other", "region_code": s.region}},
        ("tasks", "POST", "/api/units/resolve"): {"json": {"region_code": s.region, "names": ["县人社局"]}},
        ("tasks", "POST", "/api/users"): {"json": {"username": f"t_{tag}", "full_name": "测试", "unit_id": s.unit_id,
                                                   "roles": ["unit_staff"], "password": "xianjie-test-1"}},
        ("tasks", "POST", "/api/policies"): {"files": {"file": ("要点.txt", POLICY.encode(), "text/plain")},
                                              "data": {"region_code": s.region}},
        ("tasks", "GET", "/api/progress"): {"url": f"/api/progress?unit_id={s.unit_id}"},
        ("tasks", "POST", "/api/ledgers"): {"json": {"title": f"整改台账{tag}", "region_code": s.region, "year": 2024,
                                                     "items": [{"problem": "问题", "measure": "措施", "deadline": "2024-12-31",
                                                                "responsible_unit_id": s.unit_id}]}},
        ("alerts", "GET", "/api/households"): {"url": f"/api/households?village={s.village}"},
        ("alerts", "POST", "/api/households"): {"json": {"household_no": f"T{abs(hash(tag)) % 10**12}",
                                                          "village_code": s.village, "head_name": "张三",
                                                          "category": "一般农户", "members": 3}},
        ("alerts", "GET", "/api/alerts"): {"url": f"/api/alerts?region={s.region}"},
        ("alerts", "POST", "/api/silences"): {"json": {"region_code": s.region, "subject_key": "T0001", "reason": "测试静默",
                                                          "days": 1}},
        ("alerts", "GET", "/api/rules"): {"url": f"/api/rules?region={s.region}&year=2024"},
        ("alerts", "PUT", "/api/rules/{region}/{year}"): {"url": f"/api/rules/{s.region}/2024", "json": {}},
        ("alerts", "GET", "/api/cases"): {"url": f"/api/cases?region={s.region}"},
        ("alerts", "GET", "/api/cases/counts"): {"url": f"/api/cases/counts?region={s.region}"},
        ("assessment", "GET", "/api/scores"): {"url": f"/api/scores?region={s.region}&period=2024"},
        ("assessment", "GET", "/api/scores/{unit_id}/{period}/explain"): {
            "url": f"/api/scores/{s.unit_id}/2024/explain?region={s.region}"},
        ("assessment", "GET", "/api/leaders/overview"): {"url": f"/api/leaders/overview?region={s.region}&year=2024"},
        ("assessment", "POST", "/api/bulletins"): {"json": {"kind": "monthly", "period": "2024-05", "region_code": s.region}},
    }


LISTS = {("alerts", "GET", "/api/households"), ("alerts", "GET", "/api/alerts"), ("alerts", "GET", "/api/cases")}
FILTERED = LISTS | {("tasks", "GET", "/api/progress"), ("alerts", "GET", "/api/cases/counts")}
# readable across counties on purpose: the unit directory, name resolution, the province's rule files
OPEN_ACROSS = {("tasks", "GET", "/api/units"), ("tasks", "POST", "/api/units/resolve"), ("alerts", "GET", "/api/rules")}


def login(client: TestClient, user: str, password: str = PASSWORD) -> dict:
    r = client.post("/api/auth/login", json={"username": user, "password": password})
    assert r.status_code == 200, (user, r.text)
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
def world(stack_env):
    """Tokens and identities of the role users, the three scopes of each, and a household in each
    scope's village (created by the platform admin) so that filtered lists have something to hide."""
    with TestClient(APPS["tasks"]) as c:
        headers = {role: login(c, user) for role, user in ROLE_USERS.items()}
        admin = login(c, "admin")
        me = {role: c.get("/api/me", headers=h).json() for role, h in headers.items()}
    with psycopg.connect(stack_env.database_url, autocommit=True) as conn:
        def one(sql: str, *params):
            row = conn.execute(sql, params).fetchone()
            assert row is not None, (sql, params)
            return row

        def village_under(prefix: str) -> str:
            return one("SELECT code FROM common.regions WHERE level = 'village' AND code LIKE %s ORDER BY code LIMIT 1",
                       prefix + "%")[0]

        if conn.execute("SELECT 1 FROM common.regions WHERE code LIKE %s AND level = 'village'",
                        (OTHER_COUNTY[:6] + "%",)).fetchone() is None:  # 某县 has townships only in the demo
            town = one("SELECT code FROM common.regions WHERE parent_code = %s ORDER BY code LIMIT 1", OTHER_COUNTY)[0]
            conn.execute("INSERT INTO common.regions (code, name, level, parent_code) VALUES (%s, '测试村', 'village', %s)",
                         (town[:9] + "201", town))
        same_id, same_region = one("SELECT id, region_code FROM common.units WHERE name = %s AND region_code LIKE "
                                   "'532325%%'", SAME_COUNTY_UNIT)
        other_id, other_region = one("SELECT id, region_code FROM common.units WHERE region_code = %s AND kind = "
                                     "'office' ORDER BY id LIMIT 1", OTHER_COUNTY)
        same = Scope(same_id, same_region, village_under(same_region[:9]))
        other = Scope(other_id, other_region, village_under(other_region[:6]))
        levels = {m["region_code"]: one("SELECT level FROM common.regions WHERE code = %s", m["region_code"])[0]
                  for m in me.values()}
        prefixes = {role: jurisdiction_prefix(m["region_code"], levels[m["region_code"]]) for role, m in me.items()}
        scopes = {role: {"own": Scope(m["unit_id"], m["region_code"], village_under(prefixes[role])),
                         "same_county": same, "other_county": other} for role, m in me.items()}
    every = [s for sc in scopes.values() for s in sc.values()]
    res = Resources({}, {}, {})
    with TestClient(APPS["alerts"]) as c:
        for village in sorted({s.village for s in every}):
            r = c.post("/api/households", headers=admin, json={
                "household_no": f"W{village}", "village_code": village, "head_name": "李四", "category": "脱贫户",
                "members": 2})
            assert r.status_code in (200, 201), r.text
            res.households[village] = r.json()["id"]
    with TestClient(APPS["tasks"]) as c:
        for unit_id in sorted({s.unit_id for s in every}):
            r = c.post("/api/users", headers=admin, json={"username": f"scope_{unit_id}", "full_name": "测试",
                                                          "unit_id": unit_id, "roles": ["unit_staff"],
                                                          "password": "xianjie-test-1"})
            assert r.status_code == 201, r.text
            res.users[unit_id] = r.json()["id"]
        for region in sorted({s.region for s in every}):
            r = c.post("/api/policies", headers=admin, files={"file": ("要点.txt", POLICY.encode(), "text/plain")},
                       data={"region_code": region})
            assert r.status_code == 201, r.text
            res.documents[region] = r.json()["id"]
    return {"headers": headers, "admin": admin, "scopes": scopes, "prefixes": prefixes, "resources": res}


def villages_in(body) -> list[str]:
    items = body.get("items", body) if isinstance(body, dict) else body
    return [i["village_code"] for i in items if isinstance(i, dict) and "village_code" in i] \
        if isinstance(items, list) else []


def written_scopes() -> dict[tuple[str, str, str, str], dict[str, str]]:
    text = DOC.read_text(encoding="utf-8")
    rows = {}
    if SECTION not in text:
        return rows
    for line in text.split(SECTION, 1)[1].splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 + len(ROLE_USERS) and cells[0] in APPS and cells[3] in SCOPES:
            rows[tuple(cells[:4])] = dict(zip(ROLE_USERS, cells[4:], strict=True))
    return rows


def render_scopes(observed: dict) -> str:
    out = (f"{SECTION}\n\nEvery operation naming a unit or a region, or acting on a household, user or policy document,\n"
           "called by each role's demo user with its own unit (its region, a village and the household, user and\n"
           f"document there), with {SAME_COUNTY_UNIT} (another unit of 姚安县: a township beside 栋川镇, inside the\n"
           "county offices' jurisdiction) and with 某县乡村振兴局 (another county). Cells are the HTTP status: 403\n"
           "refused for the jurisdiction or the role; 404 a resource of another jurisdiction, hidden as if absent\n"
           "(or nothing to show: the explanation of a score without facts); 2xx done; 422 past the jurisdiction\n"
           "check, the body refused. Lists answered 200 for another jurisdiction are filtered to the caller's: the\n"
           "test checks no household outside it appears. Readable across counties on purpose: the unit directory,\n"
           "name resolution and the province's rule files. Checked by `tests/integration/test_authority_scopes.py`.\n\n")
    out += "| service | method | path | scope | " + " | ".join(ROLE_USERS) + " |\n"
    out += "|" + " --- |" * (4 + len(ROLE_USERS)) + "\n"
    order = {s: i for i, s in enumerate(SCOPES)}
    for key in sorted(observed, key=lambda k: (k[0], k[1], k[2], order[k[3]])):
        out += f"| {key[0]} | {key[1]} | `{key[2]}` | {key[3]} | " + " | ".join(observed[key][r] for r in ROLE_USERS) + " |\n"
    return out


def write_scopes(section: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    before, _, after = text.partition(SECTION)
    rest = re.search(r"^## ", after, re.MULTILINE) if after else None
    DOC.write_text(before.rstrip("\n") + "\n\n" + section + ("\n" + after[rest.start():] if rest else ""),
                   encoding="utf-8")


def test_own_unit_another_unit_of_the_county_and_another_county(world):
    observed, leaks = {}, []
    clients = {name: TestClient(app) for name, app in APPS.items()}
    with clients["tasks"], clients["alerts"], clients["assessment"]:
        for role in ROLE_USERS:
            for scope in SCOPES:
                s = world["scopes"][role][scope]
                for key, req in call_scoped(s, f"{role}-{scope}", world["resources"]).items():
                    service, method, path = key
                    r = clients[service].request(method, req.get("url", path), headers=world["headers"][role],
                                                 json=req.get("json"), files=req.get("files"), data=req.get("data"))
                    assert r.status_code < 500, (key, role, scope, r.text)
                    observed.setdefault((*key, scope), {})[role] = str(r.status_code)
                    if key in LISTS and r.status_code == 200:
                        leaks += [(key, role, scope, v) for v in villages_in(r.json())
                                  if not v.startswith(world["prefixes"][role])]
    documented_ops = {(s, m, p) for s, app in APPS.items() for m, p in operations(app)}
    assert {k[:3] for k in observed} <= documented_ops, "a scoped call names an operation the APIs no longer have"
    if os.environ.get("XIANJIE_WRITE_AUTHORITY"):
        write_scopes(render_scopes(observed))
    doc = written_scopes()
    assert set(doc) == set(observed), ("missing from docs/authority.md", set(observed) - set(doc),
                                       "documented but not called", set(doc) - set(observed))
    wrong = {k: (doc[k], observed[k]) for k in observed if doc[k] != observed[k]}
    assert not wrong, wrong
    assert not leaks, leaks
    refused = {k for k, row in observed.items() for code in row.values() if code == "403"}
    assert any(k[3] == "other_county" for k in refused) and any(k[3] == "own" for k in observed)
    across = {(key, r) for key, row in observed.items() for r, code in row.items() if key[3] == "other_county"
              and r != "ops" and code.startswith("2") and key[:3] not in FILTERED | OPEN_ACROSS}
    assert not across, ("another county's data reached", across)


def test_expired_forged_and_disabled_tokens_are_refused_by_every_service(world, stack_env):
    with TestClient(APPS["tasks"]) as c:
        r = c.post("/api/users", headers=world["admin"], json={
            "username": "soon_disabled", "full_name": "将停用", "unit_id": world["scopes"]["unit_staff"]["own"].unit_id,
            "roles": ["unit_staff"], "password": "xianjie-test-1"})
        assert r.status_code in (200, 201), r.text
        user_id = r.json()["id"]
        disabled = login(c, "soon_disabled", "xianjie-test-1")
        assert c.get("/api/me", headers=disabled).status_code == 200
        assert c.patch(f"/api/users/{user_id}", headers=world["admin"], json={"disabled": True}).status_code == 200
    admin_id = int(jwt.decode(world["admin"]["Authorization"][7:], options={"verify_signature": False})["sub"])
    expired, _ = issue_token(admin_id, "admin", now=time.time() - 10_000, ttl_s=60)
    forged = jwt.encode({"sub": str(admin_id), "username": "admin", "exp": int(time.time()) + 600},
                        "not-the-secret", "HS256")
    bad = {"expired": {"Authorization": f"Bearer {expired}"}, "forged": {"Authorization": f"Bearer {forged}"},
           "disabled": disabled, "garbage": {"Authorization": "Bearer not.a.token"}}
    checked = 0
    for service, app in APPS.items():
        with TestClient(app) as client:
            ops = [op for op in operations(app) if op != ("POST", "/api/auth/login")]
            sample = [op for op in ops if op[0] == "GET" and "{" not in op[1]][:4] + [op for op in ops if op[0] != "GET"][:2]
            assert len(sample) >= 3, (service, sample)
            for method, path in sample:
                url = re.sub(r"\{[^}]+\}", MISSING_ID, path)
                for what, headers in bad.items():
                    r = client.request(method, url, headers=headers, json={} if method != "GET" else None)
                    assert r.status_code == 401, (service, method, path, what, r.status_code, r.text)
                    assert r.headers.get("www-authenticate", "").lower().startswith("bearer")
                    checked += 1
                good = client.request(method, url, headers=world["admin"], json={} if method != "GET" else None)
                assert good.status_code != 401, (service, method, path, "the admin's own token")
    assert checked >= 3 * 3 * len(bad)


def response_text(r) -> str:
    """What a person would read in the response: JSON/HTML as text, an .xlsx workbook's cell values."""
    if r.content[:2] == b"PK":
        try:
            wb = load_workbook(io.BytesIO(r.content), read_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError):
            return r.content.decode("latin-1")
        return "\n".join(str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row
                         if v is not None)
    return r.content.decode("utf-8", "replace")


def audited(stack_env, *actions: str) -> int:
    with psycopg.connect(stack_env.database_url) as conn:
        return conn.execute("SELECT count(*) FROM common.audit_log WHERE action = ANY(%s)", (list(actions),)).fetchone()[0]


def test_id_numbers_are_whole_only_in_the_offices_audited_unmasking(world, stack_env):
    village = world["scopes"]["data_entry"]["own"].village
    with TestClient(APPS["alerts"]) as c:
        r = c.post("/api/households", headers=world["admin"], json={
            "household_no": "ID0001", "village_code": village, "head_name": "王五", "head_id_number": HEAD_ID,
            "phone": "13812345678", "category": "脱贫户", "members": 2,
            "member_list": [{"name": "王五", "id_number": HEAD_ID, "relation": "户主"},
                            {"name": "赵六", "id_number": MEMBER_ID, "relation": "配偶"}]})
        assert r.status_code in (200, 201), r.text
        household_id = r.json()["id"]
    whole = re.compile(f"{HEAD_ID}|{MEMBER_ID}", re.IGNORECASE)
    unmasking = {("alerts", "/api/households/{household_id}/unmasked")}
    seen_whole = []
    before = audited(stack_env, "household.unmask", "households.export_unmasked")
    for service, app in APPS.items():
        with TestClient(app) as client:
            for method, path in operations(app):
                if method != "GET":
                    continue
                url = re.sub(r"\{household_id\}", str(household_id), path)
                url = re.sub(r"\{[^}]+\}", MISSING_ID, url)
                for role in ROLE_USERS:
                    r = client.get(url, headers=world["headers"][role])
                    if whole.search(response_text(r)):
                        seen_whole.append((service, path, role))
    expected = [(s, p, "office_admin") for s, p in unmasking]
    assert sorted(seen_whole) == sorted(expected), seen_whole
    assert audited(stack_env, "household.unmask", "households.export_unmasked") == before + len(expected)
    with TestClient(APPS["alerts"]) as c:
        for role in ROLE_USERS:
            r = c.get("/api/households/export.xlsx?unmasked=true", headers=world["headers"][role])
            assert (r.status_code == 200) == (role == "office_admin"), (role, r.status_code)
            assert bool(whole.search(response_text(r))) == (role == "office_admin"), role
            masked = c.get("/api/households/export.xlsx", headers=world["headers"][role])
            assert not whole.search(response_text(masked)), role
    assert audited(stack_env, "households.export_unmasked") >= 1
    assert audited(stack_env, "household.unmask", "households.export_unmasked") == before + len(expected) + 1
