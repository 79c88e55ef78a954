"""The assessment API: scores with ranking, the explanation of every point, bulletins
(list, view, printable HTML, XLSX, generate on demand) and the leaders' overview."""

from __future__ import annotations

from dataclasses import asdict
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from services.assessment import repository as repo
from services.assessment.reporting import compute_scores, generate, kind_of
from services.common import audit
from services.common.auth import Principal, require
from services.common.config import get_settings
from services.common.excel import XLSX_MEDIA_TYPE
from services.common.http import DbId, create_app
from services.common.temporal import temporal
from services.common.units import jurisdiction_prefix
from workflows.bulletin_workflow import BulletinAnnounceWorkflow

router = APIRouter(prefix="/api", tags=["考核评估"])
READERS = ("office_admin", "leader")
PERIOD = r"^\d{4}(-(0[1-9]|1[0-2]|Q[1-4]|H1))?$"


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(pattern="^(monthly|quarterly|half_year|annual)$", description="月通报/季度分析/半年小结/年终总结")
    period: str = Field(pattern=PERIOD, description="2023-05 / 2023-Q2 / 2023-H1 / 2023")
    region_code: str | None = Field(default=None, pattern=r"^\d{12}$")


def _region(p: Principal, region: str | None) -> str:
    code = region or p.region_code
    if not p.covers_region(code):
        raise HTTPException(status_code=403, detail="只能查看本辖区 (outside your jurisdiction)")
    return code


def _scores(conn, region: str, period: str, explain: bool = False):
    try:
        return compute_scores(conn, region, period, explain)
    except ValueError as e:
        raise HTTPException(status_code=422, detail=str(e)) from None


@router.get("/scores", summary="各单位得分与排名")
def scores(request: Request, period: str = Query(..., pattern=PERIOD), region: str | None = Query(None, pattern=r"^\d{12}$"),
           p: Principal = Depends(require(*READERS))):
    code = _region(p, region)
    with request.app.state.pool.connection() as conn:
        result, _ = _scores(conn, code, period)
        names = repo.unit_names(conn, [s.unit_id for s in result])
    return [{"unit_id": s.unit_id, "unit": names.get(s.unit_id), "total": s.total, "grade": s.grade, "rank": s.rank,
             "vetoed": s.vetoed, "praise": s.praise, "criticism": s.criticism} for s in result]


@router.get("/scores/{unit_id}/{period}/explain", summary="得分说明:指标 → 公式 → 事实 → 事件 → 任务 → 政策条款")
def explain(unit_id: DbId, period: str, request: Request, region: str | None = Query(None, pattern=r"^\d{12}$"),
            p: Principal = Depends(require(*READERS, "unit_head", "unit_staff"))):
    code = _region(p, region)
    if not p.has_role(*READERS) and unit_id != p.unit_id:
        raise HTTPException(status_code=404, detail="只能查看本单位的得分说明 (not your unit)")
    with request.app.state.pool.connection() as conn:
        result, rows = _scores(conn, code, period, explain=True)
    score = next((s for s in result if s.unit_id == unit_id), None)
    if score is None:
        raise HTTPException(status_code=404, detail=f"单位 {unit_id} 在 {period} 没有考核记录 (no facts)")
    facts_by_event = {str(e): r for r in rows if r["unit_id"] == unit_id for e in r["event_ids"]}
    lines = []
    for line in score.lines:
        facts = [facts_by_event[e] for e in line.event_ids if e in facts_by_event]
        lines.append({**asdict(line), "facts": [{"kind": f["kind"], "period": f["period"], "value": float(f["value"]),
                                                 "task_id": f["task_id"], "step_id": f["step_id"], "ref": f["ref"]}
                                                for f in facts]})
    return {"unit_id": unit_id, "period": period, "total": score.total, "grade": score.grade, "rank": score.rank,
            "sum_of_lines": round(sum(line.points for line in score.lines), 2), "lines": lines}


@router.get("/leaders/overview", summary="领导视图:排名、红旗(较差或被督办)、各单位趋势")
def overview(request: Request, year: int = Query(..., ge=2015, le=2100), region: str | None = Query(None, pattern=r"^\d{12}$"),
             p: Principal = Depends(require(*READERS))):
    code = _region(p, region)
    with request.app.state.pool.connection() as conn:
        annual, rows = _scores(conn, code, str(year))
        trend: dict[int, list] = {}
        for m in range(1, 13):
            monthly, _ = _scores(conn, code, f"{year}-{m:02d}")
            for s in monthly:
                trend.setdefault(s.unit_id, []).append({"period": f"{year}-{m:02d}", "total": s.total})
        names = repo.unit_names(conn, [s.unit_id for s in annual])
    escalated = {r["unit_id"] for r in rows if r["kind"] == "step_escalated"}
    return {
        "ranking": [{"unit": names.get(s.unit_id), "unit_id": s.unit_id, "total": s.total, "grade": s.grade,
                     "rank": s.rank} for s in annual],
        "red_flags": [{"unit": names.get(s.unit_id), "unit_id": s.unit_id, "grade": s.grade,
                       "escalated": s.unit_id in escalated} for s in annual if s.grade == "较差" or s.unit_id in escalated],
        "trend": {names.get(u, str(u)): points for u, points in trend.items()},
    }


@router.get("/bulletins", summary="通报列表")
def list_bulletins(request: Request, kind: str | None = Query(None, pattern="^(monthly|quarterly|half_year|annual)$"),
                   p: Principal = Depends(require())):
    with request.app.state.pool.connection() as conn:
        return repo.list_bulletins(conn, jurisdiction_prefix(p.region_code, p.region_level), kind)


def _bulletin(request: Request, p: Principal, bulletin_id: int) -> dict:
    with request.app.state.pool.connection() as conn:
        b = repo.get_bulletin(conn, bulletin_id)
    if b is None or not p.covers_region(b["region_code"]):
        raise HTTPException(status_code=404, detail=f"通报 {bulletin_id} 不存在 (bulletin not found)")
    return b


@router.get("/bulletins/{bulletin_id}", summary="通报内容")
def get_bulletin(bulletin_id: DbId, request: Request, p: Principal = Depends(require())):
    b = _bulletin(request, p, bulletin_id)
    return {k: b[k] for k in ("id", "kind", "region_code", "period", "title", "data", "generated_by", "created_at")}


@router.get("/bulletins/{bulletin_id}/html", response_class=HTMLResponse, summary="可打印的通报")
def bulletin_html(bulletin_id: DbId, request: Request, p: Principal = Depends(require())):
    return HTMLResponse(_bulletin(request, p, bulletin_id)["html"])


@router.get("/bulletins/{bulletin_id}/xlsx", summary="通报 Excel")
def bulletin_xlsx(bulletin_id: DbId, request: Request, p: Principal = Depends(require())):
    b = _bulletin(request, p, bulletin_id)
    return Response(bytes(b["xlsx"]), media_type=XLSX_MEDIA_TYPE,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(b['title'])}.xlsx"})


@router.post("/bulletins", status_code=201, summary="按需生成通报 (生成后通知通报中点到的单位)")
async def generate_bulletin(body: GenerateRequest, request: Request, p: Principal = Depends(require("office_admin")),
                            client: Client = Depends(temporal)):
    code = _region(p, body.region_code)
    if kind_of(body.period) != body.kind:
        raise HTTPException(status_code=422, detail=f"期间 {body.period} 与通报类型 {body.kind} 不符")

    def store() -> int:
        with request.app.state.pool.connection() as conn:
            bulletin_id = generate(conn, kind=body.kind, region_code=code, period=body.period, generated_by=p.username)
            audit.record(conn, service="assessment", principal=p, action="bulletin.generate", entity="bulletin",
                         entity_id=bulletin_id, after=body.model_dump(), request_id=request.state.request_id)
            return bulletin_id

    try:
        bulletin_id = await run_in_threadpool(store)
    except ValueError as e:
        raise HTTPException(status_code=422, detail=str(e)) from None
    s = get_settings()
    workflow_id = f"{s.temporal_workflow_id_prefix}bulletin-announce-{bulletin_id}"
    await client.start_workflow(BulletinAnnounceWorkflow.run, bulletin_id, id=workflow_id,
                                task_queue=s.temporal_task_queue,
                                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
    return {"id": bulletin_id, "announce_workflow_id": workflow_id}


app = create_app(service="assessment", title="县级巩固拓展脱贫攻坚成果 · 考核评估服务 (assessment API)", routers=[router])
