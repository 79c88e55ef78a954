"""Bad input everywhere: schemathesis sends generated requests — valid and invalid —
to every operation of the three APIs' OpenAPI schemas with a valid office token, and
no request may get a server error or a JSON body that breaks the operation's own
response schema. Temporal, PostgreSQL and the broker are real, as in production."""

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from services.alerts.api import app as alerts_app
from services.assessment.api import app as assessment_app
from services.tasks.api import app as tasks_app

pytestmark = pytest.mark.integration

PASSWORD = "xianjie-demo"
EXAMPLES = settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
CHECKS = [not_a_server_error, response_schema_conformance]

tasks_schema = schemathesis.openapi.from_asgi("/openapi.json", tasks_app)
alerts_schema = schemathesis.openapi.from_asgi("/openapi.json", alerts_app)
assessment_schema = schemathesis.openapi.from_asgi("/openapi.json", assessment_app)


@pytest.fixture
def token(stack_env):
    with TestClient(tasks_app) as c:
        r = c.post("/api/auth/login", json={"username": "yaoan_office", "password": PASSWORD})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]


def client_of(app, token):
    c = TestClient(app)
    c.headers["Authorization"] = f"Bearer {token}"
    return c


@pytest.fixture
def tasks(token):
    with client_of(tasks_app, token) as c:
        yield c


@pytest.fixture
def alerts(token):
    with client_of(alerts_app, token) as c:
        yield c


@pytest.fixture
def assessment(token):
    with client_of(assessment_app, token) as c:
        yield c


@tasks_schema.exclude(path="/api/auth/login").parametrize()
@EXAMPLES
def test_tasks_api(case, tasks):
    case.call_and_validate(session=tasks, checks=CHECKS)


@alerts_schema.parametrize()
@EXAMPLES
def test_alerts_api(case, alerts):
    case.call_and_validate(session=alerts, checks=CHECKS)


@assessment_schema.parametrize()
@EXAMPLES
def test_assessment_api(case, assessment):
    case.call_and_validate(session=assessment, checks=CHECKS)
