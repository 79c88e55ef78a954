"""`.ci/audit.py` (make audit) against a stand-in pip-audit answering as the services would:
skipped with the reason when no service reports the canary's known vulnerability, failed when
a trusted service finds one in the installed packages, passed when it finds none."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

AUDIT = Path(__file__).resolve().parents[2] / ".ci" / "audit.py"
FAKE = """#!{python}
import json, os, sys
args = sys.argv[1:]
service = args[args.index("--vulnerability-service") + 1]
answers = json.loads(os.environ["FAKE_ANSWERS"])
answer = answers[service]["canary" if "-r" in args else "installed"]
if answer is None:
    sys.stderr.write("requests.exceptions.ConnectionError: Failed to resolve 'api.osv.dev'\\n")
    sys.exit(1)
print(json.dumps(answer))
sys.exit(1 if any(d.get("vulns") for d in answer["dependencies"]) else 0)
"""
NOT_FOUND = {"dependencies": [{"name": "jinja2", "skip_reason": "Dependency not found on PyPI and could not be audited: "
                                                              "jinja2 (2.10)"}], "fixes": []}
CANARY_FOUND = {"dependencies": [{"name": "jinja2", "version": "2.10", "vulns": [{"id": "PYSEC-2019-217"}]}]}
CLEAN = {"dependencies": [{"name": "fastapi", "version": "1.0", "vulns": []},
                          {"name": "python-calamine-plus", "skip_reason": "Dependency not found on PyPI"}]}
VULNERABLE = {"dependencies": [{"name": "fastapi", "version": "1.0", "vulns": []},
                               {"name": "urllib3", "version": "1.24.1",
                                "vulns": [{"id": "PYSEC-2019-133", "fix_versions": ["1.24.2"]}]}]}


def audit(tmp_path, answers: dict) -> subprocess.CompletedProcess:
    fake = tmp_path / "pip-audit"
    fake.write_text(FAKE.format(python=sys.executable))
    fake.chmod(0o755)
    return subprocess.run([sys.executable, str(AUDIT), "--pip-audit", str(fake)], check=False, capture_output=True,
                          text=True,
                          env={**os.environ, "FAKE_ANSWERS": json.dumps(answers)}, timeout=120)


def test_no_service_reports_the_canary_so_the_audit_is_skipped_with_the_reasons(tmp_path):
    r = audit(tmp_path, {"pypi": {"canary": NOT_FOUND, "installed": VULNERABLE}, "osv": {"canary": None}})
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("pip-audit skipped: no vulnerability service reachable")
    assert "pypi: Dependency not found on PyPI" in r.stdout and "osv: requests.exceptions.ConnectionError" in r.stdout


@pytest.mark.parametrize("pypi_canary", [CANARY_FOUND, NOT_FOUND])
def test_a_trusted_service_finding_a_vulnerability_fails_the_audit(tmp_path, pypi_canary):
    answers = {"pypi": {"canary": pypi_canary, "installed": VULNERABLE},
               "osv": {"canary": CANARY_FOUND, "installed": VULNERABLE}}
    r = audit(tmp_path, answers)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "VULNERABLE urllib3 1.24.1: PYSEC-2019-133 (fixed in 1.24.2)" in r.stdout
    service = "pypi" if pypi_canary is CANARY_FOUND else "osv"
    assert f"pip-audit ({service}): 2 packages audited, 1 vulnerable, 0 not audited" in r.stdout


def test_a_trusted_service_finding_nothing_passes_and_names_what_it_could_not_audit(tmp_path):
    r = audit(tmp_path, {"pypi": {"canary": CANARY_FOUND, "installed": CLEAN}})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "not audited: python-calamine-plus" in r.stdout
    assert "pip-audit (pypi): 1 packages audited, 0 vulnerable, 1 not audited" in r.stdout
