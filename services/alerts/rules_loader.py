"""Rule sets as data: YAML files `rules/<region code | default>/<year>.yaml`.

Why files: a county's thresholds (monitoring line, county averages, expense lines,
village shares) change every year by notice, and must change without code, each
value carrying the document and clause it comes from.

Lookup: the most specific region that has a file (village → township → county →
city → province → default), and there the latest year ≤ the year asked for. A file
may `extends: <region>` (or `<region>@<year>`): the parent rule set for the same year
is loaded first, then this file's `rules` (new, or replacing a rule of the same id
whole), `overrides` (changing some fields of an inherited rule), `monitoring_lines`
(by year) and `routes` (by key) go on top.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import yaml

from services.alerts.rule_conditions import Condition, expand_categories, parse_condition
from services.common import units

RULES_ROOT = Path(__file__).with_name("rules")
# libyaml's safe loader where PyYAML was built with it (its wheels are): the same documents, ten times faster.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SEVERITIES = ("info", "warning", "critical")
CAUSES = ("income", "medical", "education", "housing", "water", "employment", "disaster", "village")
# The units a finding can be routed to; the consumer resolves keys to units through `routes`.
ROUTE_KEYS = ("township", "medical", "employment", "education", "housing", "water",
              "civil_affairs", "rural_revitalization")
TOP_KEYS = ("region", "name", "year", "source", "extends", "monitoring_lines", "routes",
            "always_route_to", "rules", "overrides")
RULE_KEYS = ("id", "name", "condition", "severity", "cause", "route_to", "source", "categories", "enabled")
REQUIRED_RULE_KEYS = ("id", "name", "condition", "severity", "cause", "route_to", "source")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_REGION = re.compile(r"^(default|\d{12})$")
_EXTENDS = re.compile(r"^(default|\d{12})(@(\d{4}))?$")


class RuleSetError(ValueError):
    """A rule file that cannot be used; the message names the file, the rule and the field."""


@dataclass(frozen=True)
class MonitoringLine:
    amount: float  # 元/人/年
    year: int  # the year it was published for (may be earlier than the year evaluated)
    source: str


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    condition: Condition
    severity: str
    cause: str
    route_to: tuple[str, ...]
    source: str
    categories: tuple[str, ...] | None = None  # None: every household category
    enabled: bool = True

    def applies_to(self, category: str) -> bool:
        return self.categories is None or category in self.categories


@dataclass(frozen=True)
class RuleSet:
    region_code: str  # the region asked for
    year: int  # the year asked for
    name: str  # 地区名称 of the most specific file
    rules: tuple[Rule, ...]
    monitoring_line: MonitoringLine | None
    routes: dict[str, tuple[str, ...]]  # route key → unit-name patterns, in order of preference
    always_route_to: tuple[str, ...]  # added to every finding (the household's township)
    version: str  # "<most specific file>@<year>#<hash of the files>", stored with each finding
    source: str  # the document(s) of the most specific file
    files: tuple[str, ...] = field(default=())  # the extends chain, most specific first

    @cached_property
    def household_rules(self) -> tuple[Rule, ...]:
        """The enabled household rules in file order: what every household event is checked against."""
        return tuple(r for r in self.rules if r.enabled and r.condition.scope == "household")

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _parse_rule(raw: Any, route_keys: set[str], partial: bool) -> tuple[Rule | None, list[str]]:
    """One rule mapping → a Rule and its problems (field-level, without the rule prefix).
    `partial`: an override entry, where only `id` is required and `condition` holds
    only the parameters to change."""
    errors: list[str] = []
    if not isinstance(raw, dict):
        return None, ["应为映射"]
    for key in raw:
        if key not in RULE_KEYS:
            errors.append(f"{key}: 未知字段 (可用: {', '.join(RULE_KEYS)})")
    for key in ("id",) if partial else REQUIRED_RULE_KEYS:
        if key not in raw or raw[key] is None or raw[key] == "":
            errors.append(f"{key}: 缺少")
    if "id" in raw and not (isinstance(raw["id"], str) and _ID.match(raw["id"])):
        errors.append(f"id: 应为小写字母、数字和下划线, 实为 {raw['id']!r}")
    for key in ("name", "source"):
        if key in raw and not _text(raw[key]):
            errors.append(f"{key}: 应为非空文字")
    if "severity" in raw and raw["severity"] not in SEVERITIES:
        errors.append(f"severity: 应为 {'|'.join(SEVERITIES)}, 实为 {raw['severity']!r}")
    if "cause" in raw and raw["cause"] not in CAUSES:
        errors.append(f"cause: 应为 {'|'.join(CAUSES)} 之一, 实为 {raw['cause']!r}")
    if "route_to" in raw:
        routes = raw["route_to"]
        if not isinstance(routes, list) or not routes:
            errors.append("route_to: 应为非空列表")
        else:
            for key in routes:
                if key not in route_keys:
                    errors.append(f"route_to: 路由键 {key!r} 没有 routes 定义 (可用: {', '.join(sorted(route_keys))})")
    if "enabled" in raw and not isinstance(raw["enabled"], bool):
        errors.append(f"enabled: 应为 true/false, 实为 {raw['enabled']!r}")
    categories = None
    if raw.get("categories") is not None:
        categories = expand_categories(raw["categories"], "categories", errors)
    condition = None
    if partial:
        if "condition" in raw and (not isinstance(raw["condition"], dict) or "kind" in raw["condition"]):
            errors.append("condition: 覆盖时只写要改的参数, 不能改 kind (要换条件类型请在 rules 中整条替换)")
    elif "condition" in raw:
        condition = parse_condition(raw["condition"], errors)
    if errors or partial:
        return None, errors
    return Rule(id=raw["id"], name=raw["name"], condition=condition, severity=raw["severity"],
                cause=raw["cause"], route_to=tuple(raw["route_to"]), source=raw["source"],
                categories=categories, enabled=raw.get("enabled", True)), []


def _rule_label(raw: Any, index: int) -> str:
    rid = raw.get("id") if isinstance(raw, dict) else None
    return f"规则 {rid}" if isinstance(rid, str) and rid else f"规则 #{index + 1}"


def validate_rule_set(data: Any) -> list[str]:
    """Problems of one rule file's content, each naming the rule id and field; [] if usable.
    For an office editing rules: checks what one file can say on its own (references
    to inherited rules are checked when the file is loaded with its parent)."""
    if not isinstance(data, dict):
        return ["规则集: 应为映射"]
    errors = [f"{key}: 未知字段 (可用: {', '.join(TOP_KEYS)})" for key in data if key not in TOP_KEYS]
    if not (isinstance(data.get("region"), str) and _REGION.match(data["region"])):
        errors.append(f"region: 应为 default 或12位区划代码, 实为 {data.get('region')!r}")
    year = data.get("year")
    if not (isinstance(year, int) and not isinstance(year, bool) and 2000 <= year <= 2100):
        errors.append(f"year: 应为年份, 实为 {year!r}")
    if not _text(data.get("source")):
        errors.append("source: 缺少 (文件所依据的文件名称)")
    if "name" in data and not _text(data["name"]):
        errors.append("name: 应为非空文字")
    if "extends" in data and not (isinstance(data["extends"], str) and _EXTENDS.match(data["extends"])):
        errors.append(f"extends: 应为 default、12位区划代码或 代码@年份, 实为 {data['extends']!r}")
    lines = data.get("monitoring_lines", {})
    if not isinstance(lines, dict):
        errors.append("monitoring_lines: 应为 {年份: {amount, source}}")
        lines = {}
    for line_year, line in lines.items():
        where = f"monitoring_lines.{line_year}"
        if not (isinstance(line_year, int) and 2000 <= line_year <= 2100):
            errors.append(f"{where}: 年份应为整数")
        if not isinstance(line, dict):
            errors.append(f"{where}: 应为 {{amount, source}}")
            continue
        for key in line:
            if key not in ("amount", "source"):
                errors.append(f"{where}.{key}: 未知字段")
        amount = line.get("amount")
        if not (isinstance(amount, (int, float)) and not isinstance(amount, bool) and amount > 0):
            errors.append(f"{where}.amount: 应为正数 (元/人/年), 实为 {amount!r}")
        if not _text(line.get("source")):
            errors.append(f"{where}.source: 缺少 (发布文件及条款)")
    routes = data.get("routes", {})
    if not isinstance(routes, dict):
        errors.append("routes: 应为 {路由键: [单位名称模式…]}")
        routes = {}
    for key, patterns in routes.items():
        if not (isinstance(key, str) and _ID.match(key)):
            errors.append(f"routes.{key}: 路由键应为小写字母、数字和下划线")
        if not (isinstance(patterns, list) and patterns and all(_text(p) for p in patterns)):
            errors.append(f"routes.{key}: 应为非空的单位名称列表")
    route_keys = set(ROUTE_KEYS) | {k for k in routes if isinstance(k, str)}
    always = data.get("always_route_to", [])
    if not isinstance(always, list) or any(k not in route_keys for k in always):
        errors.append(f"always_route_to: 应为路由键列表 (可用: {', '.join(sorted(route_keys))}), 实为 {always!r}")
    seen: set[str] = set()
    for section, partial in (("rules", False), ("overrides", True)):
        entries = data.get(section, [])
        if not isinstance(entries, list):
            errors.append(f"{section}: 应为列表")
            continue
        for index, raw in enumerate(entries):
            label = f"{section}: {_rule_label(raw, index)}"
            _, problems = _parse_rule(raw, route_keys, partial)
            errors.extend(f"{label}: {p}" for p in problems)
            rid = raw.get("id") if isinstance(raw, dict) else None
            if isinstance(rid, str):
                if rid in seen:
                    errors.append(f"{label}: id: 在本文件中重复")
                seen.add(rid)
    return errors


def region_chain(region_code: str) -> list[str]:
    """`services.common.units.region_chain`, refused as a RuleSetError."""
    try:
        return units.region_chain(region_code)
    except ValueError as e:
        raise RuleSetError(str(e)) from None


def find_rule_file(root: Path, region_code: str, year: int) -> tuple[Path, int]:
    """The file that applies: most specific region with a file, latest year ≤ `year`."""
    for region in region_chain(region_code):
        folder = root / region
        years = [int(p.stem) for p in folder.glob("*.yaml") if p.stem.isdigit() and int(p.stem) <= year]
        if years:
            return folder / f"{max(years)}.yaml", max(years)
    raise RuleSetError(f"没有适用于 {region_code} {year}年的规则文件 (在 {root} 下)")


@dataclass
class _Merged:
    """Rule files merged along the extends chain, still as raw mappings."""

    rules: dict[str, dict] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)  # rule id → the file that last set it
    lines: dict[int, dict] = field(default_factory=dict)
    routes: dict[str, list] = field(default_factory=dict)
    always: list = field(default_factory=list)
    files: list[Path] = field(default_factory=list)  # most specific first
    head: dict = field(default_factory=dict)  # the most specific file's content


def _read(path: Path, file_year: int) -> dict:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise RuleSetError(f"{path}: YAML 无法解析: {exc}") from exc
    errors = validate_rule_set(data)
    if not errors and data["region"] != path.parent.name:
        errors.append(f"region: {data['region']} 与所在目录 {path.parent.name} 不符")
    if not errors and data["year"] != file_year:
        errors.append(f"year: {data['year']} 与文件名 {path.name} 不符")
    if errors:
        raise RuleSetError(f"{path}: " + "; ".join(errors))
    return data


def _merge_chain(root: Path, region_code: str, year: int, seen: tuple[Path, ...]) -> _Merged:
    path, file_year = find_rule_file(root, region_code, year)
    if path in seen:
        raise RuleSetError(f"{path}: extends 形成循环: {' → '.join(map(str, seen + (path,)))}")
    data = _read(path, file_year)
    merged = _Merged()
    if "extends" in data:
        parent, _, pinned = data["extends"].partition("@")
        merged = _merge_chain(root, parent, int(pinned) if pinned else year, seen + (path,))
    for raw in data.get("rules", []):
        merged.rules[raw["id"]] = dict(raw)
        merged.origin[raw["id"]] = str(path)
    for raw in data.get("overrides", []):
        if raw["id"] not in merged.rules:
            raise RuleSetError(f"{path}: overrides: 规则 {raw['id']}: 上级规则集中没有此规则")
        rule = {**merged.rules[raw["id"]], **{k: v for k, v in raw.items() if k != "condition"}}
        if "condition" in raw:
            rule["condition"] = {**rule["condition"], **raw["condition"]}
        merged.rules[raw["id"]] = rule
        merged.origin[raw["id"]] = str(path)
    for line_year, line in data.get("monitoring_lines", {}).items():
        merged.lines[line_year] = line
    merged.routes.update(data.get("routes", {}))
    if "always_route_to" in data:
        merged.always = list(data["always_route_to"])
    merged.files.insert(0, path)
    merged.head = data
    return merged


def _build(root: Path, region_code: str, year: int) -> RuleSet:
    merged = _merge_chain(root, region_code, year, ())
    rules, errors = [], []
    for rid, raw in merged.rules.items():
        rule, problems = _parse_rule(raw, set(merged.routes), partial=False)
        errors.extend(f"{merged.origin[rid]}: 规则 {rid}: {p}" for p in problems)
        if rule:
            rules.append(rule)
    missing = [k for k in merged.always if k not in merged.routes]
    if missing:
        errors.append(f"{merged.files[0]}: always_route_to: 路由键 {missing} 没有 routes 定义")
    if errors:
        raise RuleSetError("; ".join(errors))
    line_years = [y for y in merged.lines if y <= year]
    line = None
    if line_years:
        y = max(line_years)
        line = MonitoringLine(amount=merged.lines[y]["amount"], year=y, source=merged.lines[y]["source"])
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in merged.files)).hexdigest()[:8]
    rel = [p.relative_to(root).as_posix() for p in merged.files]
    return RuleSet(
        region_code=region_chain(region_code)[0], year=year, name=merged.head.get("name", merged.head["region"]),
        rules=tuple(rules), monitoring_line=line,
        routes={k: tuple(v) for k, v in merged.routes.items()}, always_route_to=tuple(merged.always),
        version=f"{rel[0]}@{year}#{digest}", source=merged.head["source"], files=tuple(rel))


@lru_cache(maxsize=1024)
def _cached(region_code: str, year: int, root: str) -> RuleSet:
    asked = region_chain(region_code)[0]
    path, _ = find_rule_file(Path(root), asked, year)
    shared = _cached_for_file(path.parent.name, year, root)
    return shared if shared.region_code == asked else replace(shared, region_code=asked)


@lru_cache(maxsize=256)
def _cached_for_file(file_region: str, year: int, root: str) -> RuleSet:
    """Built once per rule file and year. The villages of a county that has no file of its own
    all use their county's (or province's) file: building it for each village parsed the same
    YAML chain again, which was a tenth of an alerts consumer's time in the benchmark (45
    villages × 4 years, in every process) and would be far more in a province's thousands of
    villages."""
    return _build(Path(root), file_region, year)


def load_rule_set(region_code: str, year: int, root: Path | str | None = None) -> RuleSet:
    """The rule set for a region (any level, 2–12 digits, or "default") and a year.
    Cached: after editing files call `clear_cache()`. Raises RuleSetError."""
    return _cached(str(region_code).strip(), int(year), _resolved(str(root or RULES_ROOT)))


@lru_cache(maxsize=64)
def _resolved(root: str) -> str:
    """The root as an absolute path, once per root: resolving it for every event costs more than the rules."""
    return str(Path(root).resolve())


def clear_cache() -> None:
    _cached.cache_clear()
    _cached_for_file.cache_clear()
    _resolved.cache_clear()
