"""Helpers the catalogue, dashboard and alert-rule tests share: docs/metrics.md as data,
and the metric names a PromQL expression selects."""

from __future__ import annotations

import re

import promql_parser

from services.common.config import REPO_ROOT

CATALOGUE = REPO_ROOT / "docs" / "metrics.md"
ROW = re.compile(r"^\|\s*`(?P<name>[a-z_:]+)`\s*\|\s*(?P<type>\w+)\s*\|(?P<labels>[^|]*)\|")
# Prometheus's own series for every target: which processes answer at all.
PROMETHEUS_BUILTIN = {"up"}


def catalogue() -> dict[str, tuple[str, frozenset[str]]]:
    """name -> (type, labels) of every row of the catalogue's tables."""
    out = {}
    for line in CATALOGUE.read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if m:
            labels = frozenset(x.strip() for x in m["labels"].split(",") if x.strip())
            assert m["name"] not in out, f"{m['name']} is listed twice"
            out[m["name"]] = (m["type"], labels)
    return out


def exported_series() -> set[str]:
    """Every series name a query may select: the catalogue's, with a histogram's parts."""
    out = set(PROMETHEUS_BUILTIN)
    for name, (kind, _) in catalogue().items():
        out.add(name)
        if kind == "histogram":
            out |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return out


def selected_metrics(node) -> set[str]:
    """Names of every vector selector in a parsed PromQL expression."""
    if isinstance(node, promql_parser.VectorSelector):
        if node.name:
            return {node.name}
        names = [m.value for m in node.matchers.matchers if m.name == "__name__"]
        assert names, f"a selector without a metric name: {node}"
        return set(names)
    found = set()
    for attr in ("expr", "lhs", "rhs", "param", "vector_selector"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, (int, float, str)):
            found |= selected_metrics(child)
    for arg in getattr(node, "args", None) or []:
        found |= selected_metrics(arg)
    return found


def metrics_of(expr: str) -> set[str]:
    return selected_metrics(promql_parser.parse(expr))
