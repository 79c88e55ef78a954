"""The assessment API: scores, rankings and bulletins (routes arrive with the fact
ledger); for now identity, health and metrics."""

from __future__ import annotations

from services.common.http import create_app

app = create_app(service="assessment", title="县级巩固拓展脱贫攻坚成果 · 考核评估服务 (assessment API)", routers=[])
