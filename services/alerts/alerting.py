"""Alert handling as Alertmanager does it, as pure functions: which findings fire,
which are silenced by the office, which are inhibited (a household under an active
assistance plan, or a higher-severity finding of the same cause, suppresses the
lower ones), and which alerts of the period no longer hold and are resolved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.alerts.model import Finding
from services.common.units import code_prefix

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class Silence:
    region_code: str
    rule_id: str | None
    subject_key: str | None
    expires_at: datetime

    def matches(self, subject_key: str, village_code: str, rule_id: str, now: datetime) -> bool:
        return (
            self.expires_at > now
            and village_code.startswith(code_prefix(self.region_code))
            and (self.rule_id is None or self.rule_id == rule_id)
            and (self.subject_key is None or self.subject_key == subject_key)
        )


@dataclass(frozen=True)
class Decision:
    finding: Finding
    status: str  # firing | inhibited | silenced


def decide(
    findings: list[Finding],
    *,
    subject_key: str,
    village_code: str,
    under_assistance: bool,
    silences: list[Silence],
    now: datetime,
) -> list[Decision]:
    """The status of each finding of one subject in one period."""
    top_by_cause: dict[str, int] = {}
    for f in findings:
        top_by_cause[f.cause] = max(top_by_cause.get(f.cause, -1), SEVERITY_RANK[f.severity])
    out = []
    for f in findings:
        rank = SEVERITY_RANK[f.severity]
        if any(s.matches(subject_key, village_code, f.rule_id, now) for s in silences):
            status = "silenced"
        elif rank < top_by_cause[f.cause]:
            status = "inhibited"
        elif under_assistance and rank < SEVERITY_RANK["critical"]:
            status = "inhibited"
        else:
            status = "firing"
        out.append(Decision(f, status))
    return out


def group_severity(decisions: list[Decision]) -> str | None:
    """The severity of the group: its highest firing alert, None when nothing fires."""
    firing = [d.finding.severity for d in decisions if d.status == "firing"]
    return max(firing, key=SEVERITY_RANK.__getitem__) if firing else None


def resolved_rules(previous_rule_ids: set[str], decisions: list[Decision]) -> set[str]:
    """Rules that tripped earlier in the period and no longer do."""
    return previous_rule_ids - {d.finding.rule_id for d in decisions}
