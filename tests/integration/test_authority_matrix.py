"""The authority matrix: every operation of the three APIs called as each role must be
admitted or refused exactly as docs/authority.md says, and refused without a token.

`XIANJIE_WRITE_AUTHORITY=1` rewrites the document from what the APIs do (then read the
diff: a ✓ that appeared is a permission granted)."""

import os
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.alerts.api import app as alerts_app
from services.assessment.api import app as assessment_app
from services.tasks.api import app as tasks_app

pytestmark = pytest.mark.integration

ROLE_USERS = {  # a demo user holding each role (and only it), all in 姚安县
    "office_admin": "yaoan_office",
    "leader": "yaoan_leader",
    "unit_head": "yaoan_rsj_head",
    "unit_staff": "yaoan_rsj",
    "data_entry": "dongchuan_entry",
    "ops": "ops",
}
PUBLIC = {("POST", "/api/auth/login")}
MISSING_ID = "987654321"


def operations(app) -> list[tuple[str, str]]:
    """(METHOD, path template) of every /api operation in the app's OpenAPI."""
    out = []
    for path, item in app.openapi()["paths"].items():
        if path.startswith("/api/"):
            out += [(method.upper(), path) for method in item if method in ("get", "post", "put", "patch", "delete")]
    return sorted(out)


def call(client, method: str, path: str, headers: dict) -> int:
    """The status of the operation with unknown ids and an empty body: a refused role gets 403
    (or 401) before any lookup or validation; an admitted one gets past the gate (404, 422…)."""
    url = re.sub(r"\{[^}]+\}", MISSING_ID, path)
    if method in ("POST", "PUT", "PATCH"):
        return client.request(method, url, headers=headers, json={}).status_code
    return client.request(method, url, headers=headers).status_code


def passes(status: int) -> bool:
    return status not in (401, 403)


DOC = Path(__file__).resolve().parents[2] / "docs" / "authority.md"
APPS = {"tasks": tasks_app, "alerts": alerts_app, "assessment": assessment_app}
PASSWORD = "xianjie-demo"
HEAD = """# Authority matrix (权限矩阵)

Which role passes the gate of each operation of the three APIs. ✓: admitted (the operation
then still checks the caller's unit and jurisdiction on the data: a unit sees its own steps,
an office its own region, see the tests of each API); ✗: refused with 403. Without a token every
operation but login answers 401. Checked both ways by `tests/integration/test_authority_matrix.py`
(`XIANJIE_WRITE_AUTHORITY=1` rewrites this file from what the APIs do).

Roles: office_admin 领导小组办公室, leader 领导, unit_head 单位负责人, unit_staff 单位经办人,
data_entry 数据录入员, ops 运维.

"""


def written() -> dict[tuple[str, str, str], dict[str, bool]]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 + len(ROLE_USERS) and cells[0] in APPS:
            rows[(cells[0], cells[1], cells[2])] = {r: c == "✓" for r, c in zip(ROLE_USERS, cells[3:])}
    return rows


def render(observed: dict) -> str:
    """The role table; the document's later sections (## …, written by test_authority_scopes.py) are kept."""
    header = "| service | method | path | " + " | ".join(ROLE_USERS) + " |\n"
    header += "|" + " --- |" * (3 + len(ROLE_USERS)) + "\n"
    body = "".join(f"| {s} | {m} | `{p}` | " + " | ".join("✓" if observed[(s, m, p)][r] else "✗" for r in ROLE_USERS)
                   + " |\n" for s, m, p in sorted(observed))
    text = DOC.read_text(encoding="utf-8")
    later = re.search(r"^## ", text, re.MULTILINE)
    return HEAD + header + body + ("\n" + text[later.start():] if later else "")


@pytest.fixture
def tokens(stack_env):
    with TestClient(tasks_app) as c:
        out = {}
        for role, user in ROLE_USERS.items():
            r = c.post("/api/auth/login", json={"username": user, "password": PASSWORD})
            assert r.status_code == 200, (user, r.text)
            out[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return out


def test_every_operation_admits_exactly_the_roles_written(tokens):
    observed, anonymous = {}, {}
    for service, app in APPS.items():
        with TestClient(app) as client:
            for method, path in operations(app):
                observed[(service, method, path)] = {
                    role: passes(call(client, method, path, tokens[role])) for role in ROLE_USERS}
                anonymous[(service, method, path)] = call(client, method, path, {})
    if os.environ.get("XIANJIE_WRITE_AUTHORITY"):
        DOC.write_text(render(observed), encoding="utf-8")
    doc = written()
    assert set(doc) == set(observed), ("operations missing from docs/authority.md", set(observed) - set(doc),
                                       "documented but gone", set(doc) - set(observed))
    wrong = {k: (doc[k], observed[k]) for k in observed if doc[k] != observed[k]}
    assert not wrong, wrong
    assert {k: s for k, s in anonymous.items() if s != 401 and (k[1], k[2]) not in PUBLIC} == {}
    assert any(not ok for row in observed.values() for ok in row.values()), "the matrix refuses someone somewhere"
