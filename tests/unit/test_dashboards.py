"""The Grafana dashboards of deploy/grafana/ query only metrics the code exports.

Every query (panel targets and template variables) is parsed as PromQL and each metric
it selects must be in docs/metrics.md, which test_metrics_catalogue.py keeps equal to the
code. Histogram series (`_bucket`, `_sum`, `_count`) count as their histogram.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import promql_parser
import pytest
from metrics_catalogue import exported_series, selected_metrics

from services.common.config import REPO_ROOT

GRAFANA = REPO_ROOT / "deploy" / "grafana"
# Grafana's variables, replaced by something PromQL accepts before parsing.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
LABEL_VALUES = re.compile(r"^label_values\((?:(?P<metric>[^,]+),\s*)?(?P<label>\w+)\)$")


def dashboards() -> list[Path]:
    return sorted(GRAFANA.glob("*.json"))


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def panels(board: dict):
    for p in board["panels"]:
        yield p
        yield from p.get("panels", [])


def queries(board: dict) -> list[str]:
    out = [t["expr"] for p in panels(board) for t in p.get("targets", [])]
    for var in board.get("templating", {}).get("list", []):
        if var["type"] == "query":
            q = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            m = LABEL_VALUES.match(q)
            assert m, f"template variable {var['name']}: only label_values(metric, label) is used here"
            out.append(m["metric"])
    return out


def substitute(expr: str) -> str:
    for var, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(var, value)
    return re.sub(r"\$(\w+)", r"\1", expr)  # $region inside a matcher becomes a plain value


def test_the_four_dashboards_exist():
    titles = {load(p)["uid"] for p in dashboards()}
    assert titles == {"xianjie-overview", "xianjie-event-pipeline", "xianjie-workflows-sla", "xianjie-api"}


@pytest.mark.parametrize("path", dashboards(), ids=lambda p: p.name)
def test_every_query_names_an_exported_metric(path):
    board = load(path)
    exported = exported_series()
    exprs = queries(board)
    assert len(exprs) >= 8, "a dashboard with almost no queries"
    for expr in exprs:
        tree = promql_parser.parse(substitute(expr))
        names = selected_metrics(tree)
        assert names, f"{path.name}: {expr!r} selects no metric"
        assert names <= exported, f"{path.name}: {expr!r} uses {sorted(names - exported)}, not in docs/metrics.md"


@pytest.mark.parametrize("path", dashboards(), ids=lambda p: p.name)
def test_dashboards_are_importable(path):
    board = load(path)
    assert board["uid"].startswith("xianjie-") and board["title"] and "xianjie" in board["tags"]
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    names = {v["name"] for v in board["templating"]["list"]}
    assert "datasource" in names
    for p in panels(board):
        if p["type"] == "row":
            continue
        assert p["datasource"]["uid"] == "${datasource}", f"{p['title']}: every panel uses the chosen Prometheus"
        assert p["targets"], p["title"]
        for t in p["targets"]:
            used = set(re.findall(r"\$(\w+)", t["expr"])) - {"__rate_interval", "__interval", "__range"}
            assert used <= names, f"{p['title']}: undefined variable {used - names}"
        grid = p["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24


def test_the_checker_catches_an_unknown_metric():
    tree = promql_parser.parse(substitute('sum(rate(xianjie_no_such_thing_total{region=~"$region"}[$__rate_interval]))'))
    assert selected_metrics(tree) == {"xianjie_no_such_thing_total"}
    assert not selected_metrics(tree) <= exported_series()
