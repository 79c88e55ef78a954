"""Routes of alerts: the list by jurisdiction (and the ones routed to the caller's
unit), a household's alerts, silences set by the office, and the rule set in force."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta, timezone

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.alerts.rule_files import effective_root
from services.alerts.rules import RuleSetError, load_rule_set, validate_rule_set
from services.common import audit
from services.common.auth import Principal, require
from services.common.http import DbId
from services.common.units import code_prefix, jurisdiction_prefix

router = APIRouter(prefix="/api", tags=["监测预警"])


class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    region_code: str = Field(pattern=r"^\d{12}$", description="静默范围(区划)")
    rule_id: str | None = Field(default=None, max_length=100, description="规则 id;不填则该户所有规则")
    subject_key: str | None = Field(default=None, max_length=40, description="户编号;不填则辖区内所有户")
    reason: str = Field(min_length=2, max_length=500, description="静默理由")
    days: int = Field(default=30, ge=1, le=366, description="有效天数")

    @model_validator(mode="after")
    def _scope(self):
        if not self.rule_id and not self.subject_key:
            raise ValueError("请指定规则或户编号 (rule_id or subject_key is required)")
        return self


@router.get("/alerts", summary="预警列表(本辖区;mine=true 只看派给本单位的)")
def list_alerts(
    request: Request,
    status: str | None = Query(None, pattern="^(open|resolved)$"),
    severity: str | None = Query(None, pattern="^(info|warning|critical)$"),
    rule_id: str | None = Query(None, max_length=100),
    region: str | None = Query(None, pattern=r"^\d{12}$"),
    mine: bool = False,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    p: Principal = Depends(require()),
):
    clauses = ["g.village_code LIKE %s"]
    params: list = [jurisdiction_prefix(p.region_code, p.region_level) + "%"]
    if region:
        clauses.append("g.village_code LIKE %s")
        params.append(code_prefix(region) + "%")  # 532325100000 → 532325100, not 5323251
    for column, value in (("g.status", status), ("g.severity", severity)):
        if value:
            clauses.append(f"{column} = %s")
            params.append(value)
    if rule_id:
        clauses.append("EXISTS (SELECT 1 FROM alerts.alerts a WHERE a.group_id = g.id AND a.rule_id = %s)")
        params.append(rule_id)
    if mine:
        clauses.append("%s = ANY(g.routed_unit_ids)")
        params.append(p.unit_id)
    where = " AND ".join(clauses)
    with request.app.state.pool.connection() as conn:
        total = conn.execute(f"SELECT count(*) AS n FROM alerts.alert_groups g WHERE {where}", params).fetchone()["n"]
        groups = conn.execute(
            f"""SELECT g.id, g.subject_key, g.household_id, g.village_code, r.name AS village_name, g.period, g.severity,
                       g.status, g.created_at, g.updated_at, h.head_name, h.category,
                       (SELECT json_agg(json_build_object('rule_id', a.rule_id, 'name', a.rule_name, 'status', a.status,
                               'severity', a.severity, 'cause', a.cause, 'detail', a.detail, 'times_seen', a.times_seen)
                               ORDER BY a.id) FROM alerts.alerts a WHERE a.group_id = g.id) AS alerts
                FROM alerts.alert_groups g JOIN common.regions r ON r.code = g.village_code
                LEFT JOIN alerts.households h ON h.id = g.household_id
                WHERE {where} ORDER BY g.severity = 'critical' DESC, g.updated_at DESC LIMIT %s OFFSET %s""",
            (*params, limit, offset),
        ).fetchall()
    return {"total": total, "limit": limit, "offset": offset, "items": groups}


@router.get("/households/{household_id}/alerts", summary="某户的预警")
def household_alerts(household_id: DbId, request: Request, p: Principal = Depends(require())):
    with request.app.state.pool.connection() as conn:
        h = conn.execute("SELECT household_no, village_code FROM alerts.households WHERE id = %s",
                         (household_id,)).fetchone()
        if h is None or not p.covers_region(h["village_code"]):
            raise HTTPException(status_code=404, detail=f"户 {household_id} 不存在 (household not found)")
        return conn.execute(
            """SELECT rule_id, rule_name, cause, severity, period, status, detail, source, rule_set, first_seen_at,
                      last_seen_at, times_seen FROM alerts.alerts WHERE subject_key = %s ORDER BY period DESC, id""",
            (h["household_no"],),
        ).fetchall()


@router.post("/silences", status_code=201, summary="静默规则或农户(须写理由和期限)")
def create_silence(body: SilenceIn, request: Request, p: Principal = Depends(require("office_admin"))):
    if not p.covers_region(body.region_code):
        raise HTTPException(status_code=403, detail="只能静默本辖区 (outside your jurisdiction)")
    expires = datetime.now(timezone.utc) + timedelta(days=body.days)
    with request.app.state.pool.connection() as conn:
        row = conn.execute(
            """INSERT INTO alerts.silences (region_code, rule_id, subject_key, reason, expires_at, created_by)
               VALUES (%s, %s, %s, %s, %s, %s) RETURNING id, region_code, rule_id, subject_key, reason, starts_at,
               expires_at""",
            (body.region_code, body.rule_id, body.subject_key, body.reason, expires, p.user_id),
        ).fetchone()
        audit.record(conn, service="alerts", principal=p, action="silence.create", entity="silence",
                     entity_id=row["id"], after={**body.model_dump(), "expires_at": expires.isoformat()},
                     request_id=request.state.request_id)
    return row


@router.get("/silences", summary="静默列表")
def list_silences(request: Request, active: bool = True, p: Principal = Depends(require("office_admin", "leader"))):
    with request.app.state.pool.connection() as conn:
        return conn.execute(
            f"""SELECT id, region_code, rule_id, subject_key, reason, starts_at, expires_at, created_by
                FROM alerts.silences WHERE region_code LIKE %s {"AND expires_at > now()" if active else ""}
                ORDER BY id DESC""",
            (jurisdiction_prefix(p.region_code, p.region_level) + "%",),
        ).fetchall()


@router.post("/silences/{silence_id}/expire", summary="提前结束静默")
def expire_silence(silence_id: DbId, request: Request, p: Principal = Depends(require("office_admin"))):
    with request.app.state.pool.connection() as conn:
        row = conn.execute("SELECT region_code, expires_at FROM alerts.silences WHERE id = %s FOR UPDATE",
                           (silence_id,)).fetchone()
        if row is None or not p.covers_region(row["region_code"]):
            raise HTTPException(status_code=404, detail=f"静默 {silence_id} 不存在 (silence not found)")
        conn.execute("UPDATE alerts.silences SET expires_at = greatest(starts_at + interval '1 second', now()) "
                     "WHERE id = %s", (silence_id,))
        audit.record(conn, service="alerts", principal=p, action="silence.expire", entity="silence",
                     entity_id=silence_id, before={"expires_at": row["expires_at"].isoformat()},
                     request_id=request.state.request_id)
    return {"id": silence_id, "expired": True}


@router.get("/rules", summary="当前生效的预警规则(含来源条款)")
def rules(request: Request, region: str = Query(..., pattern=r"^\d{12}$"), year: int = Query(..., ge=2015, le=2100),
          p: Principal = Depends(require())):
    if not p.covers_region(region) and not region.startswith(p.region_code[:2]):
        raise HTTPException(status_code=403, detail="只能查看本辖区的规则 (outside your jurisdiction)")
    with request.app.state.pool.connection() as conn:
        rule_set = load_rule_set(region, year, effective_root(conn))
    return jsonable_encoder({
        "version": rule_set.version,
        "source": rule_set.source,
        "monitoring_line": asdict(rule_set.monitoring_line) if rule_set.monitoring_line else None,
        "routes": rule_set.routes,
        "rules": [{**asdict(r), "condition": {"kind": type(r.condition).__name__, **asdict(r.condition)}}
                  for r in rule_set.rules],
    })


@router.put("/rules/{region}/{year}", summary="修改某地某年的规则文件(校验后生效,保留历次版本)")
def save_rules(region: str, year: int, body: dict, request: Request, p: Principal = Depends(require("office_admin"))):
    if not (len(region) == 12 and region.isdigit()) or not 2015 <= year <= 2100:
        raise HTTPException(status_code=422, detail="区划代码应为12位数字,年份在2015到2100之间")
    if not p.covers_region(region):
        raise HTTPException(status_code=403, detail="只能修改本辖区的规则 (outside your jurisdiction)")
    errors = validate_rule_set(body)
    if errors:
        raise HTTPException(status_code=422, detail={"message": "规则文件有误 (invalid rule set)", "errors": errors})
    with request.app.state.pool.connection() as conn:
        before = conn.execute(
            "SELECT data FROM alerts.rule_files WHERE region_code = %s AND year = %s ORDER BY id DESC LIMIT 1",
            (region, year),
        ).fetchone()
        row = conn.execute(
            "INSERT INTO alerts.rule_files (region_code, year, data, created_by) VALUES (%s, %s, %s, %s) RETURNING id",
            (region, year, Jsonb(body), p.user_id),
        ).fetchone()
        audit.record(conn, service="alerts", principal=p, action="rules.save", entity="rule_file",
                     entity_id=row["id"], before=before["data"] if before else None, after=body,
                     request_id=request.state.request_id)
        try:
            rule_set = load_rule_set(region, year, effective_root(conn))
        except RuleSetError as e:
            conn.rollback()
            raise HTTPException(status_code=422, detail=f"规则文件无法加载: {e}") from None
    return {"id": row["id"], "version": rule_set.version, "rules": [r.id for r in rule_set.rules]}
