"""The audit log: one row per change, written in the same transaction as the change.

Rows are only ever inserted; the database itself refuses updates and deletes.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from services.common.auth import Principal


def record(
    conn: psycopg.Connection,
    *,
    service: str,
    principal: Principal | None,
    action: str,
    entity: str,
    entity_id: str | int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> None:
    conn.execute(
        """INSERT INTO common.audit_log (service, user_id, username, unit_id, action, entity, entity_id,
                                         before, after, request_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            service,
            principal.user_id if principal else None,
            principal.username if principal else None,
            principal.unit_id if principal else None,
            action,
            entity,
            None if entity_id is None else str(entity_id),
            Jsonb(before) if before is not None else None,
            Jsonb(after) if after is not None else None,
            request_id,
        ),
    )


def search(
    conn: psycopg.Connection,
    *,
    region_prefix: str,
    entity: str | None = None,
    entity_id: str | None = None,
    username: str | None = None,
    action: str | None = None,
    since: Any = None,
    until: Any = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict]:
    """Audit rows of units inside `region_prefix`, newest first, filtered by whatever is given."""
    clauses: list[str] = []
    params: list[Any] = []
    if region_prefix:  # the whole-country prefix "" also sees rows written by no unit
        clauses.append("EXISTS (SELECT 1 FROM common.units n WHERE n.id = audit_log.unit_id AND n.region_code LIKE %s)")
        params.append(region_prefix + "%")
    for column, value in (("entity", entity), ("entity_id", entity_id), ("username", username), ("action", action)):
        if value is not None:
            clauses.append(f"{column} = %s")
            params.append(value)
    if since is not None:
        clauses.append("at >= %s")
        params.append(since)
    if until is not None:
        clauses.append("at < %s")
        params.append(until)
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    return conn.execute(
        f"""SELECT id, at, service, user_id, username, unit_id, action, entity, entity_id, before, after, request_id
            FROM common.audit_log {where} ORDER BY id DESC LIMIT %s OFFSET %s""",
        (*params, limit, offset),
    ).fetchall()
