"""The alerts API: household data entry and early-warning alerts (routes arrive
with the household register); for now identity, health and metrics."""

from __future__ import annotations

from services.common.http import create_app

app = create_app(service="alerts", title="县级巩固拓展脱贫攻坚成果 · 监测预警服务 (alerts API)", routers=[])
