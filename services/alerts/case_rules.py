"""The configuration of alert cases (监测帮扶案件): deadlines, reminders, escalation
ladder, SLA colours, monitoring kinds, the measure catalogue and the conditions of
风险消除, from `cases/default.yaml` and a region's own `cases/<code>.yaml`.

A region's file overrides whole top-level keys of the default; the result is a plain
dict, so the case workflow can carry it in its input and replay it unchanged.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from services.common.units import region_chain

CASES_DIR = Path(__file__).with_name("cases")
REQUIRED_STAGES = ("verify", "notice", "confirm", "plan", "follow_up")


class CaseRulesError(ValueError):
    """A case configuration that cannot be used; the message names the file and the field."""


def _positive(value, where: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CaseRulesError(f"{where} 须为非负整数 (must be a non-negative integer)")


def validate(rules: dict, name: str) -> dict:
    """The rules when every value the workflow reads is present and sensible."""
    stages = rules.get("stages") or {}
    for stage in REQUIRED_STAGES:
        if stage not in stages:
            raise CaseRulesError(f"{name}: 缺少 stages.{stage} (missing)")
        if not str(stages[stage].get("source", "")).strip():
            raise CaseRulesError(f"{name}: stages.{stage}.source 须写明依据 (source required)")
    _positive(stages["verify"].get("days"), f"{name}: stages.verify.days")
    _positive(stages["notice"].get("days"), f"{name}: stages.notice.days")
    _positive(stages["confirm"].get("days_from_alert"), f"{name}: stages.confirm.days_from_alert")
    _positive(stages["plan"].get("days"), f"{name}: stages.plan.days")
    _positive(stages["follow_up"].get("every_months"), f"{name}: stages.follow_up.every_months")
    for i, rung in enumerate(rules.get("escalation_ladder") or []):
        _positive(rung.get("after_days"), f"{name}: escalation_ladder[{i}].after_days")
        if rung.get("to") not in ("unit_head", "leader", "office"):
            raise CaseRulesError(f"{name}: escalation_ladder[{i}].to 须为 unit_head、leader 或 office")
    elimination = rules.get("risk_elimination") or {}
    _positive(elimination.get("stable_months"), f"{name}: risk_elimination.stable_months")
    if not str(elimination.get("source", "")).strip():
        raise CaseRulesError(f"{name}: risk_elimination.source 须写明依据 (source required)")
    if not rules.get("measure_catalogue"):
        raise CaseRulesError(f"{name}: measure_catalogue 不能为空 (empty)")
    if not rules.get("monitoring_kinds"):
        raise CaseRulesError(f"{name}: monitoring_kinds 不能为空 (empty)")
    return rules


@lru_cache(maxsize=64)
def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def case_rules(region_code: str | None = None, directory: Path = CASES_DIR) -> dict:
    """The rules in force for a region: its nearest ancestor's file over the default."""
    rules = dict(_load(directory / "default.yaml"))
    name = "default.yaml"
    for region in region_chain(region_code)[:-1] if region_code else ():
        path = directory / f"{region}.yaml"
        if path.exists():
            rules.update(_load(path))
            name = path.name
            break
    return validate(rules, name)


def is_fast_path(rules: dict, category: str, causes: list[str]) -> bool:
    """绿色通道: the household's category or one of the alert's causes is listed."""
    fast = rules.get("fast_path") or {}
    return category in (fast.get("categories") or []) or bool(set(causes) & set(fast.get("causes") or []))
