"""The tasks API: the front door for people — login, the unit registry, users and
the audit log (policies, tasks and inboxes join it in later modules)."""

from __future__ import annotations

import json
import math
from datetime import datetime

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from services.common import audit, excel
from services.common.auth import (
    ROLE_LABELS,
    Principal,
    authenticate,
    clear_failures,
    issue_token,
    load_principal,
    lockout_seconds,
    recent_failures,
    record_failure,
    require,
)
from services.common.config import get_settings
from services.common.excel_http import XLSX_RESPONSE, Format, export_format, export_uncounted, xlsx_download
from services.common.http import DbId, create_app
from services.common.units import jurisdiction_prefix, resolve_names
from services.tasks import attachment_api, identity, inbox_api, ledger_api, policy_api, repository, step_api
from services.tasks.schemas import (
    UNIT_KIND_LABELS,
    AuditEntry,
    LoginRequest,
    Region,
    ResolvedName,
    ResolveRequest,
    TokenResponse,
    Unit,
    UnitCreate,
    User,
    UserCreate,
    UserUpdate,
)

router = APIRouter(prefix="/api")


def _prefix(p: Principal) -> str:
    return jurisdiction_prefix(p.region_code, p.region_level)


@router.post("/auth/login", response_model=TokenResponse, tags=["身份"], summary="登录",
             responses={429: {"description": "连续登录失败次数过多,请稍后再试"}})
def login(body: LoginRequest, request: Request):
    s, client = get_settings(), request.client.host if request.client else "unknown"
    with request.app.state.pool.connection() as conn:
        wait = lockout_seconds(recent_failures(conn, body.username, client, s.login_window_s),
                               conn.execute("SELECT now() AS now").fetchone()["now"], s.login_max_failures,
                               s.login_window_s)
        if wait:
            raise HTTPException(status_code=429, headers={"Retry-After": str(wait)},
                                detail=f"连续登录失败 {s.login_max_failures} 次,请 {math.ceil(wait / 60)} 分钟后再试 "
                                       "(too many failed logins)")
        user = authenticate(conn, body.username, body.password)
        if user is None:
            record_failure(conn, body.username, client)
            conn.commit()
            raise HTTPException(status_code=401, detail="用户名或密码错误 (wrong username or password)")
        clear_failures(conn, body.username)
        audit.record(
            conn, service="tasks", principal=load_principal(conn, user["id"]), action="auth.login",
            entity="user", entity_id=user["id"],
            after={"username": user["username"]}, request_id=request.state.request_id,
        )
    token, ttl = issue_token(user["id"], user["username"])
    return TokenResponse(access_token=token, expires_in=ttl)


@router.get("/regions", response_model=list[Region], tags=["单位"], summary="区划列表")
def regions(request: Request, parent: str | None = Query(None, pattern=r"^\d{12}$"), p: Principal = Depends(require())):
    with request.app.state.pool.connection() as conn:
        return repository.list_regions(conn, _prefix(p), parent)


UNIT_COLUMNS = [
    excel.Column("id", "编号"),
    excel.Column("name", "名称", width=28),
    excel.Column(lambda r: "、".join(r["aliases"]), "简称、曾用名", width=32),
    excel.Column(lambda r: UNIT_KIND_LABELS.get(r["kind"], r["kind"]), "类型"),
    excel.Column("region_code", "区划代码"),
    excel.Column(lambda r: "已确认" if r["confirmed"] else "待确认", "状态"),
]


@router.get("/units", response_model=list[Unit], responses=XLSX_RESPONSE, tags=["单位"], summary="单位列表")
def units(
    request: Request,
    region: str | None = Query(None, pattern=r"^\d{12}$"),
    q: str | None = Query(None, max_length=50),
    limit: int = Query(200, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    fmt: Format = Depends(export_format),
    p: Principal = Depends(require()),
):
    with request.app.state.pool.connection() as conn:
        if fmt == "xlsx":
            rows = export_uncounted(lambda lim, off: repository.list_units(conn, _prefix(p), region, q, lim, off))
            return xlsx_download("单位名录", "单位名录", UNIT_COLUMNS, rows)
        return repository.list_units(conn, _prefix(p), region, q, limit, offset)


@router.post("/units", response_model=Unit, status_code=201, tags=["单位"], summary="新增单位")
def create_unit(body: UnitCreate, request: Request, p: Principal = Depends(require("office_admin"))):
    if not p.covers_region(body.region_code):
        raise HTTPException(status_code=403, detail="只能在本辖区内新增单位 (outside your jurisdiction)")
    with request.app.state.pool.connection() as conn:
        if repository.get_region(conn, body.region_code) is None:
            raise HTTPException(status_code=422, detail=f"区划代码 {body.region_code} 不存在 (unknown region)")
        if repository.find_unit_by_name(conn, body.region_code, body.name):
            raise HTTPException(status_code=409, detail=f"单位 {body.name} 已存在 (unit exists)")
        unit = repository.insert_unit(conn, body.name, body.aliases, body.kind, body.region_code)
        audit.record(
            conn, service="tasks", principal=p, action="unit.create", entity="unit", entity_id=unit["id"],
            after=dict(unit), request_id=request.state.request_id,
        )
        return unit


@router.post("/units/resolve", response_model=list[ResolvedName], tags=["单位"], summary="单位名称解析")
def resolve(body: ResolveRequest, request: Request, p: Principal = Depends(require())):
    with request.app.state.pool.connection() as conn:
        return [
            ResolvedName(written=r.written, kind=r.kind, unit_ids=list(r.unit_ids))
            for r in resolve_names(conn, body.region_code, body.names)
        ]


USER_COLUMNS = [
    excel.Column("username", "用户名"),
    excel.Column("full_name", "姓名"),
    excel.Column("unit_name", "单位", width=28),
    excel.Column(lambda r: "、".join(ROLE_LABELS.get(role, role) for role in r["roles"]), "角色", width=36),
    excel.Column(lambda r: "已停用" if r["disabled"] else "正常", "状态"),
    excel.Column("created_at", "创建时间"),
]


@router.get("/users", response_model=list[User], responses=XLSX_RESPONSE, tags=["用户"], summary="用户列表")
def users(
    request: Request,
    limit: int = Query(200, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    fmt: Format = Depends(export_format),
    p: Principal = Depends(require("office_admin")),
):
    with request.app.state.pool.connection() as conn:
        if fmt == "xlsx":
            rows = export_uncounted(lambda lim, off: repository.list_users(conn, _prefix(p), lim, off))
            return xlsx_download(f"{p.unit_name}用户名单", "用户名单", USER_COLUMNS, rows)
        return repository.list_users(conn, _prefix(p), limit, offset)


def _identity_call(fn, **kwargs):
    try:
        return fn(**kwargs)
    except identity.IdentityError as e:
        raise HTTPException(status_code=e.status, detail=str(e)) from None


@router.post("/users", response_model=User, status_code=201, tags=["用户"], summary="新增用户")
def create_user(body: UserCreate, request: Request, p: Principal = Depends(require("office_admin"))):
    with request.app.state.pool.connection() as conn:
        return _identity_call(
            identity.create_user, conn=conn, actor=p, username=body.username, full_name=body.full_name,
            unit_id=body.unit_id, roles=list(body.roles), password=body.password, request_id=request.state.request_id,
        )


@router.patch("/users/{user_id}", response_model=User, tags=["用户"], summary="修改、停用用户")
def update_user(user_id: DbId, body: UserUpdate, request: Request, p: Principal = Depends(require("office_admin"))):
    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise HTTPException(status_code=422, detail="没有需要修改的字段 (nothing to change)")
    with request.app.state.pool.connection() as conn:
        return _identity_call(
            identity.update_user, conn=conn, actor=p, user_id=user_id, changes=changes,
            request_id=request.state.request_id,
        )


def _json_text(value: dict | None) -> str:
    return json.dumps(value, ensure_ascii=False, default=str) if value is not None else ""


AUDIT_COLUMNS = [
    excel.Column("at", "时间"),
    excel.Column(lambda r: r["username"] or "系统", "用户"),
    excel.Column("action", "操作", width=24),
    excel.Column("entity", "对象"),
    excel.Column("entity_id", "对象编号"),
    excel.Column("service", "服务"),
    excel.Column(lambda r: _json_text(r["before"]), "修改前", width=48),
    excel.Column(lambda r: _json_text(r["after"]), "修改后", width=48),
    excel.Column("request_id", "请求编号", width=24),
]


@router.get("/audit", response_model=list[AuditEntry], responses=XLSX_RESPONSE, tags=["审计"], summary="审计日志")
def audit_log(
    request: Request,
    entity: str | None = Query(None, max_length=50),
    entity_id: str | None = Query(None, max_length=100),
    username: str | None = Query(None, max_length=64),
    action: str | None = Query(None, max_length=100),
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    fmt: Format = Depends(export_format),
    p: Principal = Depends(require("office_admin")),
):
    def search(lim: int, off: int) -> list[dict]:
        return audit.search(
            conn, region_prefix=_prefix(p), entity=entity, entity_id=entity_id, username=username, action=action,
            since=since, until=until, limit=lim, offset=off,
        )

    with request.app.state.pool.connection() as conn:
        if fmt == "xlsx":
            return xlsx_download("审计日志", "审计日志", AUDIT_COLUMNS, export_uncounted(search))
        return search(limit, offset)


# The inbox's routes first: the router tries routes in order, and the inbox is the page every
# unit opens first (no path of the others overlaps one of the inbox's).
app = create_app(
    service="tasks", title="县级巩固拓展脱贫攻坚成果 · 任务服务 (tasks API)",
    routers=[inbox_api.router, router, policy_api.router, step_api.router, attachment_api.router, ledger_api.router],
)
