"""The activities of a bulletin: produce it with the assessment service's own
generation (facts → scores → bulletin), then tell every unit named in it through
the tasks service's notification list. The second is where the two services meet,
so it lives here, in the worker, and not in either service."""

from __future__ import annotations

from psycopg_pool import ConnectionPool
from temporalio import activity

from services.assessment import repository as assessment_repo
from services.assessment.bulletins import notices
from services.assessment.reporting import generate
from services.tasks import inbox_repository as tasks_repo


class BulletinActivities:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    @activity.defn
    def generate_bulletin(self, kind: str, region_code: str, period: str) -> int:
        with self.pool.connection() as conn:
            return generate(conn, kind=kind, region_code=region_code, period=period, generated_by="schedule")

    @activity.defn
    def announce_bulletin(self, bulletin_id: int) -> int:
        """Notify the bulletin's units once per generation; returns how many were notified
        (0 when this generation was already announced, so a retry adds nothing)."""
        with self.pool.connection() as conn, conn.transaction():
            bulletin = assessment_repo.bulletin_to_announce(conn, bulletin_id)
            if bulletin is None:
                return 0
            sent = notices(bulletin["data"], bulletin_id)
            for n in sent:
                tasks_repo.insert_notification(conn, unit_id=n.unit_id, user_id=None, kind="bulletin",
                                               title=n.title, body=n.body, step_id=None)
            assessment_repo.mark_announced(conn, bulletin_id)
            return len(sent)
