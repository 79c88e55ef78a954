"""The activity that produces a bulletin: it runs the assessment service's own
generation (facts → scores → bulletin) against the database."""

from __future__ import annotations

from psycopg_pool import ConnectionPool
from temporalio import activity

from services.assessment.reporting import generate


class BulletinActivities:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    @activity.defn
    def generate_bulletin(self, kind: str, region_code: str, period: str) -> int:
        with self.pool.connection() as conn:
            return generate(conn, kind=kind, region_code=region_code, period=period, generated_by="schedule")
