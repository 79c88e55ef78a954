"""pip-audit of the installed requirements (the packages of the project's .venv), run by
`make audit` and CI.

A vulnerability service counts as reachable only when it reports the known vulnerability of a
canary requirement (jinja2 2.10, CVE-2019-10906): a registry mirror answering 404 for every
release, as on a machine that has only the package registries, would otherwise pass as a clean
audit. When neither PyPI's nor OSV's service is reachable the audit is skipped with the reason
printed (exit 0); when one is, any known vulnerability in the installed packages fails (exit 1).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CANARY = "jinja2==2.10"
SERVICES = ("pypi", "osv")


def pip_audit(command: str, args: list[str], timeout: float) -> tuple[dict | None, str]:
    """pip-audit's JSON report, or None and why there is none."""
    try:
        r = subprocess.run([command, "--format", "json", "--progress-spinner", "off", *args], check=False,
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"no answer within {timeout:.0f} s"
    try:
        return json.loads(r.stdout), ""
    except json.JSONDecodeError:
        lines = [line for line in r.stderr.splitlines() if line.strip()]
        return None, lines[-1][:300] if lines else f"pip-audit exited {r.returncode} without a report"


def canary_problem(report: dict | None, why: str) -> str | None:
    """None when the service reported the canary's vulnerability; else why it cannot be trusted."""
    if report is None:
        return why
    for dep in report.get("dependencies", []):
        if dep.get("vulns"):
            return None
        if dep.get("skip_reason"):
            return dep["skip_reason"]
    return f"reported no vulnerability for {CANARY}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pip-audit", default=str(Path(sys.executable).with_name("pip-audit")))
    ap.add_argument("--timeout", type=float, default=240, help="seconds for the whole audit")
    args = ap.parse_args()
    problems = {}
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as canary:
        canary.write(CANARY + "\n")
        canary.flush()
        for service in SERVICES:
            report, why = pip_audit(args.pip_audit, ["--vulnerability-service", service, "--timeout", "10",
                                                     "--no-deps", "--disable-pip", "-r", canary.name], 60)
            problems[service] = canary_problem(report, why)
            if problems[service] is None:
                break
    service = next((s for s, p in problems.items() if p is None), None)
    if service is None:
        print("pip-audit skipped: no vulnerability service reachable ("
              + "; ".join(f"{s}: {p}" for s, p in problems.items()) + ")")
        return 0
    report, why = pip_audit(args.pip_audit, ["--vulnerability-service", service, "--timeout", "15",
                                             "--skip-editable"], args.timeout)
    if report is None:
        print(f"pip-audit failed against {service}, which answered the canary: {why}")
        return 1
    deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if d.get("skip_reason")]
    for d in vulnerable:
        for v in d["vulns"]:
            fix = ", ".join(v.get("fix_versions") or []) or "no fixed version"
            print(f"VULNERABLE {d['name']} {d['version']}: {v['id']} (fixed in {fix})")
    for d in skipped:
        print(f"not audited: {d['name']}: {d['skip_reason']}")
    print(f"pip-audit ({service}): {len(deps) - len(skipped)} packages audited, {len(vulnerable)} vulnerable, "
          f"{len(skipped)} not audited")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
