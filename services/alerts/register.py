"""Saving households and their period records, shared by the API and the batch
importer. Each accepted change writes a `household.*` event through the outbox in
the caller's transaction, carrying what the rules need (the household, the record
and the same period a year earlier), so the consumer never reads the register."""

from __future__ import annotations

from decimal import Decimal

import psycopg

from services.alerts import repository as repo
from services.common import audit
from services.common.auth import Principal
from services.common.events import new_envelope, write_outbox


class RegisterError(ValueError):
    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def previous_period(period: str) -> str:
    """The same kind of period a year earlier: 2023 → 2022, 2023-05 → 2022-05."""
    return f"{int(period[:4]) - 1}{period[4:]}"


def _plain(record: dict | None) -> dict | None:
    if record is None:
        return None
    out = {"period": record["period"]}
    for f in repo.RECORD_FIELDS:
        v = record.get(f)
        out[f] = float(v) if isinstance(v, Decimal) else v
    return out


def facts_payload(household: dict, record: dict | None, previous: dict | None) -> dict:
    """The event payload: a HouseholdFacts as JSON."""
    return {
        "household_id": household["id"], "household_no": household["household_no"],
        "county_code": household["county_code"], "township_code": household["township_code"],
        "village_code": household["village_code"], "category": household["category"],
        "members": household["members"], "no_labour_capacity": household["no_labour_capacity"],
        "under_assistance": household["under_assistance"], "record": _plain(record), "previous": _plain(previous),
    }


def _emit(conn: psycopg.Connection, type_: str, household: dict, record: dict | None) -> None:
    previous = repo.get_record(conn, household["id"], previous_period(record["period"])) if record else None
    # Keyed by village, not household: a village's households share one partition, so one
    # consumer replica at a time evaluates the village-level rules (3 % / 5 % / 1000 人) and
    # writes the village's alert rows; keyed by household, every replica locked the same
    # village rows in every batch and the replicas ran one after another. A household's own
    # events stay in order (its village is in its key) unless it moves village.
    write_outbox(conn, "alerts", "household.events", new_envelope(
        type_, source="alerts", entity_id=str(household["id"]), key=household["village_code"],
        regions={"county": household["county_code"], "township": household["township_code"],
                 "village": household["village_code"]},
        payload=facts_payload(household, record, previous),
    ))


def _place(conn: psycopg.Connection, actor: Principal | None, village_code: str) -> tuple[str, str]:
    """The county and township of a village, refusing unknown villages and other jurisdictions."""
    village = repo.region(conn, village_code)
    if village is None or village["level"] != "village":
        raise RegisterError(f"村区划代码 {village_code} 不存在 (unknown village)")
    if actor is not None and not actor.covers_region(village_code):
        raise RegisterError(f"村 {village_code} 不在您的辖区内 (outside your jurisdiction)", 403)
    return village_code[:6] + "000000", village["parent_code"]


def save_household(conn: psycopg.Connection, *, actor: Principal | None, data: dict, request_id: str | None,
                   source: str = "api") -> dict:
    county, township = _place(conn, actor, data["village_code"])
    before = repo.get_household_by_no(conn, data["household_no"], for_update=True)
    if before is not None and actor is not None and not actor.covers_region(before["village_code"]):
        raise RegisterError(f"户编号 {data['household_no']} 属于其他辖区 (household outside your jurisdiction)", 403)
    household = repo.upsert_household(conn, data, county, township, actor.user_id if actor else None)
    if data.get("member_list"):
        repo.replace_members(conn, household["id"], data["member_list"])
    changed = before is None or any(before[k] != household[k] for k in (
        "village_code", "category", "members", "labourers", "no_labour_capacity", "under_assistance", "head_name"))
    if changed:
        latest = conn.execute(
            "SELECT * FROM alerts.household_records WHERE household_id = %s ORDER BY period DESC LIMIT 1",
            (household["id"],),
        ).fetchone()
        _emit(conn, "household.updated", household, latest)
        audit.record(conn, service="alerts", principal=actor, action="household.save", entity="household",
                     entity_id=household["id"], before=_audit_view(before), after=_audit_view(household),
                     request_id=request_id)
    return household


def save_record(conn: psycopg.Connection, *, actor: Principal | None, household_id: int, record: dict,
                request_id: str | None, source: str = "api") -> tuple[dict, bool]:
    """Insert or update a period record; returns it and whether anything changed."""
    household = repo.get_household(conn, household_id)
    if household is None or (actor is not None and not actor.covers_region(household["village_code"])):
        raise RegisterError(f"户 {household_id} 不存在 (household not found)", 404)
    before = repo.get_record(conn, household_id, record["period"])
    if before is not None and all(same_value(before.get(f), record.get(f)) for f in repo.RECORD_FIELDS):
        return before, False
    saved = repo.upsert_record(conn, household_id, record, actor.user_id if actor else None, source)
    _emit(conn, "household.record.saved", household, saved)
    audit.record(conn, service="alerts", principal=actor, action="household.record.save", entity="household_record",
                 entity_id=saved["id"], before=_plain(before), after=_plain(saved), request_id=request_id)
    return saved, True


def same_value(a, b) -> bool:
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return a is not None and b is not None and float(a) == float(b)
    return a == b


def _audit_view(h: dict | None) -> dict | None:
    """What the audit keeps of a household: never the ID number or phone."""
    if h is None:
        return None
    return {k: h[k] for k in ("household_no", "village_code", "category", "members", "labourers",
                              "no_labour_capacity", "under_assistance")}
