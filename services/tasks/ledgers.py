"""Rectification ledgers (整改台账): 问题清单、责任清单、时限清单和任务清单, 按期销号
(庆阳市2021年工作要点 二十三、二十七).

The office creates a ledger (typed in, or imported from the Excel workbook it
keeps) of problems, each with its responsible unit, measure, responsible person,
deadline and task list. Publishing makes every item a task like any policy
measure's, with the `rectification` reporting calendar (签收, 整改进展月报,
整改完成情况报告 by the item's deadline): the task workflow, the inbox, the step
actions (a submission's attachments are the evidence; the office approves or
returns) and sign-off then apply unchanged. 销号 of an item is refused until its
completion report is approved (with evidence when the calendar asks for it).

A task needs a document and a measure: a published ledger is stored as a policy
document of kind 'ledger' with one measure per item, written together with the
tasks when the ledger is published (see migration 006).

Every function runs inside the caller's transaction, writes the audit row and the
outbox events there, and never commits.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path, PurePath

import psycopg
import yaml

from services.common import audit
from services.common.auth import Principal
from services.common.events import new_envelope, write_outbox
from services.common.units import jurisdiction_prefix, resolve_names
from services.tasks import ledger_excel
from services.tasks import ledger_repository as repo
from services.tasks import policy_repository
from services.tasks import repository as registry
from services.common.excel import TZ, XLSX_MEDIA_TYPE
from services.tasks.inbox_schemas import STATUS_LABELS

CALENDARS = Path(__file__).parent / "calendars"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_ITEMS = 2000
TITLE_LENGTH = 80


class LedgerError(ValueError):
    """A refusal with the HTTP status that says why, and the rows at fault when there are any."""

    def __init__(self, message: str, status: int = 422, errors: list[dict] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors


# ---------------------------------------------------------------- the calendar

@lru_cache(maxsize=64)
def rectification_calendar(region_code: str | None = None) -> dict:
    """The reporting calendar of ledger items: the region's own `rectification_<code>.yaml`
    (nearest ancestor by code prefix), else `rectification.yaml`."""
    for digits in (12, 9, 6, 4, 2) if region_code else ():
        path = CALENDARS / f"rectification_{region_code[:digits].ljust(12, '0')}.yaml"
        if path.exists():
            return yaml.safe_load(path.read_text(encoding="utf-8"))
    return yaml.safe_load((CALENDARS / "rectification.yaml").read_text(encoding="utf-8"))


def evidence_required(calendar: dict) -> bool:
    return any(s.get("kind") == "completion_report" and s.get("evidence_required") for s in calendar.get("steps", []))


# ---------------------------------------------------------------- creating

def _today() -> date:
    return datetime.now(TZ).date()


def _region(conn: psycopg.Connection, actor: Principal, region_code: str) -> dict:
    region = registry.get_region(conn, region_code)
    if region is None or not actor.covers_region(region_code):
        raise LedgerError(f"区划 {region_code} 不在您的辖区内 (region outside your jurisdiction)", 403)
    return region


def _unit_allowed(region: dict, unit: dict) -> bool:
    """A unit inside the ledger's jurisdiction (a township for a county) or above it (a 州 department)."""
    inside = unit["region_code"].startswith(jurisdiction_prefix(region["code"], region["level"]))
    above = region["code"].startswith(jurisdiction_prefix(unit["region_code"], unit["region_level"]))
    return inside or above


def resolve_unit_names(conn: psycopg.Connection, region: dict, names: list[str]) -> dict[str, tuple[int | None, str]]:
    """Written name → (unit id, "") or (None, why not). Names resolve as in policies (the
    region and the regions above it); a name still unknown may be a unit inside the
    jurisdiction, such as a township government."""
    out: dict[str, tuple[int | None, str]] = {}
    prefix = jurisdiction_prefix(region["code"], region["level"])
    for r in resolve_names(conn, region["code"], sorted(set(names))):
        if r.kind == "unit":
            out[r.written] = (r.unit_ids[0], "")
        elif r.kind == "group":
            out[r.written] = (None, f"“{r.written}”是一组单位,每项问题只能填写一个具体的责任单位,请拆分为多行 "
                                    "(a group: one responsible unit per problem)")
        else:
            below = repo.units_below(conn, prefix, r.written)
            if len(below) == 1:
                out[r.written] = (below[0]["id"], "")
            elif below:
                out[r.written] = (None, f"“{r.written}”对应多个单位,请写明全称 (ambiguous unit name)")
            else:
                several = any(sep in r.written for sep in "、,,;;/\n")
                out[r.written] = (None, f"未知单位“{r.written}”" + (
                    ",每项问题只能填写一个责任单位" if several else ",请先在单位管理中登记或改用规范名称")
                    + " (unknown unit)")
    return out


def _check_items(conn: psycopg.Connection, region: dict, items: list[dict], column_of_unit: str) -> list[dict]:
    """Each item with its unit id; the errors ({row, column, reason}) when a unit is not known."""
    errors: list[dict] = []
    names = [it["responsible_unit"] for it in items if not it.get("responsible_unit_id") and it.get("responsible_unit")]
    resolved = resolve_unit_names(conn, region, names) if names else {}
    out = []
    for n, it in enumerate(items, start=1):
        row = it.get("source_row") or n
        unit_id, written = it.get("responsible_unit_id"), it.get("responsible_unit")
        if unit_id:
            unit = repo.unit_with_region(conn, unit_id)
            if unit is None or not _unit_allowed(region, unit):
                errors.append({"row": row, "column": column_of_unit,
                               "reason": f"单位 {unit_id} 不存在或不在本辖区 (unit not found)"})
                continue
            written = written or unit["name"]
        else:
            unit_id, reason = resolved.get(written or "", (None, "责任单位为空 (empty)"))
            if unit_id is None:
                errors.append({"row": row, "column": column_of_unit, "reason": reason})
                continue
        out.append({**it, "responsible_unit_id": unit_id, "responsible_unit_written": written})
    if errors:
        raise LedgerError(f"台账有 {len(errors)} 处错误,未保存任何内容 (nothing was stored)", 422, errors)
    return out


def create(conn: psycopg.Connection, *, actor: Principal, region_code: str, title: str, source: str,
           year: int | None, items: list[dict], request_id: str | None) -> dict:
    """Store a ledger (a draft until published) with its items; all or nothing.

    Items give `problem`, `measure`, `deadline` (a date), the unit as
    `responsible_unit_id` or `responsible_unit` (a name as written), and optionally
    `ref`, `responsible_person`, `task_list`, `progress`, `source_row`."""
    region = _region(conn, actor, region_code)
    checked = _check_items(conn, region, _within_limits(items), ledger_excel.LABELS["unit"])
    return _store(conn, actor=actor, region_code=region_code, title=title, source=source,
                  year=year or ledger_excel.year_in(title) or _today().year, items=checked, original=None,
                  request_id=request_id)


def _within_limits(items: list[dict]) -> list[dict]:
    if not items:
        raise LedgerError("台账没有任何问题 (no items)", 422)
    if len(items) > MAX_ITEMS:
        raise LedgerError(f"台账超过 {MAX_ITEMS} 项上限 (too many items)", 422)
    return items


def _store(conn: psycopg.Connection, *, actor: Principal, region_code: str, title: str, source: str, year: int,
           items: list[dict], original: dict | None, request_id: str | None) -> dict:
    ledger_id = repo.insert_ledger(conn, region_code=region_code, title=title, source=source, year=year,
                                   created_by=actor.user_id, original=original)
    repo.insert_items(conn, ledger_id, items)
    audit.record(conn, service="tasks", principal=actor, action="ledger.import" if original else "ledger.create",
                 entity="ledger", entity_id=ledger_id,
                 after={"title": title, "source": source, "region_code": region_code, "items": len(items),
                        **({"filename": original["filename"], "sha256": original["sha256"]} if original else {})},
                 request_id=request_id)
    return get(conn, actor=actor, ledger_id=ledger_id)


def check_upload(filename: str, size: int) -> None:
    if size > MAX_UPLOAD_BYTES:
        raise LedgerError(f"文件超过 5 MB 上限 ({size} 字节) (file too large)", 413)
    suffix = PurePath(filename or "").suffix.lower()
    if suffix not in ledger_excel.XLSX_SUFFIXES:
        raise LedgerError(f"不支持的文件类型 {suffix or '(无扩展名)'},请上传 Excel 工作簿 .xlsx (unsupported type)", 415)
    if size == 0:
        raise LedgerError("文件为空 (empty file)", 422)


def import_workbook(conn: psycopg.Connection, *, actor: Principal, region_code: str, filename: str, content: bytes,
                    title: str | None, source: str, year: int | None, request_id: str | None) -> dict:
    """A ledger from the office's Excel workbook: every bad row reported with its Excel row
    number and column, and nothing stored unless there is none."""
    check_upload(filename, len(content))
    region = _region(conn, actor, region_code)
    try:
        sheet = ledger_excel.read_ledger(content, year=year, fallback_year=ledger_excel.year_in(title or "")
                                         or _today().year)
    except ledger_excel.LedgerFileError as e:
        raise LedgerError(str(e), 422, [{"row": None, "column": "", "reason": str(e)}]) from None
    errors = [e.as_dict() for e in sheet.errors]
    items = [{"ref": it.ref, "problem": it.problem, "measure": it.measure, "responsible_unit": it.unit,
              "responsible_person": it.person, "deadline": it.deadline, "task_list": it.task_list,
              "progress": it.progress, "source_row": it.row} for it in sheet.items]
    checked: list[dict] = []
    if items:
        try:
            checked = _check_items(conn, region, _within_limits(items), sheet.headers["unit"])
        except LedgerError as e:
            errors += e.errors or [{"row": None, "column": "", "reason": str(e)}]
    if errors:
        errors.sort(key=lambda e: (e["row"] or 0, e["column"]))
        raise LedgerError(f"台账有 {len(errors)} 处错误,未导入任何内容 (nothing was imported)", 422, errors)
    ledger_title = (title or sheet.title or PurePath(filename).stem).strip()[:200] or "整改台账"
    return _store(conn, actor=actor, region_code=region_code, title=ledger_title, source=source, year=sheet.year,
                  items=checked, request_id=request_id,
                  original={"filename": filename, "content_type": XLSX_MEDIA_TYPE, "content": content,
                            "sha256": hashlib.sha256(content).hexdigest()})


# ---------------------------------------------------------------- reading

def _visible(conn: psycopg.Connection, actor: Principal, ledger_id: int, for_update: bool = False) -> dict:
    ledger = repo.get_ledger(conn, ledger_id, for_update=for_update)
    if ledger is None or not actor.covers_region(ledger["region_code"]):
        raise LedgerError(f"台账 {ledger_id} 不存在 (ledger not found)", 404)
    return ledger


def _item_state(item: dict, steps: list[dict]) -> dict:
    """What the item's steps say: the completion report, the latest progress, 销号."""
    completion = next((s for s in reversed(steps) if s["kind"] == "completion_report"), None)
    submitted = [s for s in steps if s["submission"] and s["submitted_at"]]
    latest = max(submitted, key=lambda s: s["submitted_at"], default=None)
    signed_off = item["task_status"] == "closed"
    if item["task_id"] is None:
        state = "draft"
    elif signed_off:
        state = "signed_off"
    elif completion and completion["status"] == "approved":
        state = "ready_for_sign_off"
    elif completion and completion["status"] == "submitted":
        state = "under_review"
    else:
        state = "in_progress"
    return {
        "state": state,
        "signed_off": signed_off,
        "completion_status": completion["status"] if completion else None,
        "completion_label": STATUS_LABELS.get(completion["status"], completion["status"]) if completion
        else ("未开启" if item["task_id"] else "未发布"),
        "evidence": list(((completion or {}).get("submission") or {}).get("attachments") or []),
        "current_progress": (latest["submission"].get("text") if latest else None) or item["progress"],
        "progress_reported_at": latest["submitted_at"] if latest else None,
        "overdue": any(s["overdue"] for s in steps if s["status"] in ("open", "returned")),
    }


def _with_steps(conn: psycopg.Connection, items: list[dict]) -> list[dict]:
    steps = repo.steps_of(conn, [i["task_id"] for i in items if i["task_id"]])
    by_task: dict[int, list[dict]] = {}
    for s in steps:
        by_task.setdefault(s["task_id"], []).append(s)
    out = []
    for item in items:
        own = by_task.get(item["task_id"], [])
        public = {k: v for k, v in item.items() if k != "reporting_calendar"}
        out.append({**public, **_item_state(item, own),
                    "steps": [{**s, "status_label": STATUS_LABELS.get(s["status"], s["status"])} for s in own]})
    return out


def get(conn: psycopg.Connection, *, actor: Principal, ledger_id: int) -> dict:
    """The ledger with its items, each with its steps and state."""
    ledger = _visible(conn, actor, ledger_id)
    items = _with_steps(conn, repo.list_items(conn, ledger_id))
    return {**ledger, "item_count": len(items), "signed_off_count": sum(i["signed_off"] for i in items),
            "items": items}


def list_ledgers(conn: psycopg.Connection, *, actor: Principal, status: str | None, limit: int,
                 offset: int) -> dict:
    prefix = jurisdiction_prefix(actor.region_code, actor.region_level)
    return {"total": repo.count_ledgers(conn, prefix, status), "limit": limit, "offset": offset,
            "items": repo.list_ledgers(conn, prefix, status, limit, offset)}


def export(conn: psycopg.Connection, *, actor: Principal, ledger_id: int) -> tuple[str, bytes]:
    """The ledger as a workbook in the usual columns, with current progress and 销号."""
    ledger = get(conn, actor=actor, ledger_id=ledger_id)
    title = f"{ledger['title']}(导出时间 {datetime.now(TZ):%Y-%m-%d %H:%M})"
    return ledger["title"], ledger_excel.to_ledger_xlsx(title, ledger["items"])


# ---------------------------------------------------------------- publishing

def _measure_of(item: dict, unit_name: str) -> dict:
    """The measure (and so the task) of an item: the problem as title, everything in the text."""
    first_line = item["problem"].splitlines()[0].strip()
    title = first_line if len(first_line) <= TITLE_LENGTH else first_line[: TITLE_LENGTH - 1] + "…"
    lines = [f"问题:{item['problem']}", f"整改措施:{item['measure']}",
             f"责任单位:{item['responsible_unit_written']}"
             + (f"  责任人:{item['responsible_person']}" if item["responsible_person"] else ""),
             f"完成时限:{item['deadline'].isoformat()}"]
    if item["task_list"]:
        lines.append(f"任务清单:{item['task_list']}")
    deadline = item["deadline"].isoformat()
    return {
        "ref": item["ref"],
        "title": title,
        "text": "\n".join(lines),
        "lead_units": [unit_name],
        "responsible_units": [unit_name],
        "targets": [],
        "deadlines": [{"phrase": deadline, "date": deadline, "recurring": None, "month_day": None,
                       "year_inferred": False, "text": "完成时限"}],
    }


def _document(conn: psycopg.Connection, ledger: dict, items: list[dict]) -> int:
    """The policy document of kind 'ledger' the items' tasks belong to: the imported
    workbook, or the ledger as JSON when it was typed in."""
    original = repo.get_original(conn, ledger["id"])
    if original and original["content"] is not None:
        filename, content_type, content = original["filename"], original["content_type"], bytes(original["content"])
    else:
        content = json.dumps({
            "title": ledger["title"], "source": ledger["source"], "region_code": ledger["region_code"],
            "items": [{k: (v.isoformat() if isinstance(v, date) else v) for k, v in i.items()
                       if k in ("ref", "problem", "measure", "unit_name", "responsible_person", "deadline",
                                "task_list", "progress")} for i in items],
        }, ensure_ascii=False, indent=1).encode("utf-8")
        filename, content_type = f"整改台账-{ledger['id']}.json", "application/json"
    return repo.insert_document(
        conn, region_code=ledger["region_code"], title=ledger["title"], issuer=ledger["source"] or None,
        doc_date=ledger["created_at"].astimezone(TZ).date().isoformat(), filename=filename,
        content_type=content_type, content=content, sha256=hashlib.sha256(content).hexdigest(),
        parsed={"kind": "ledger", "ledger_id": ledger["id"], "title": ledger["title"], "source": ledger["source"],
                "measures": [], "items": len(items)},
        uploaded_by=ledger["created_by"],
    )


def publish(conn: psycopg.Connection, *, actor: Principal, ledger_id: int, request_id: str | None) -> dict:
    """One task per item with the rectification calendar and a `task.published` event;
    publishing again creates nothing."""
    ledger = _visible(conn, actor, ledger_id, for_update=True)
    items = repo.list_items(conn, ledger_id)
    calendar = rectification_calendar(ledger["region_code"])
    document_id = ledger["document_id"] or _document(conn, ledger, items)
    created = []
    for item in items:
        if item["task_id"] is not None:
            continue
        measure = _measure_of(item, item["unit_name"])
        measure["id"] = repo.insert_measure(conn, document_id, item["position"], measure)
        unit_ids = [item["responsible_unit_id"]]
        due_at = item["deadline"].isoformat()
        task_id = policy_repository.insert_task(
            conn, document_id=document_id, measure=measure, region_code=ledger["region_code"],
            lead_unit_ids=unit_ids, responsible_unit_ids=unit_ids, due_at=due_at, reporting_calendar=calendar)
        repo.link_item(conn, item["id"], measure["id"], task_id)
        created.append(task_id)
        write_outbox(conn, "tasks", "tasks.events", new_envelope(
            "task.published", source="tasks", entity_id=str(task_id), key=f"task-{task_id}",
            regions={"county": ledger["region_code"] if ledger["region_code"][6:] == "000000" else None},
            payload={"task_id": task_id, "document_id": document_id, "ref": measure["ref"], "title": measure["title"],
                     "region_code": ledger["region_code"], "lead_unit_ids": unit_ids,
                     "responsible_unit_ids": unit_ids, "due_at": due_at, "targets": [],
                     "kind": "rectification", "ledger_id": ledger_id, "ledger_item_id": item["id"],
                     "source": ledger["source"]},
        ))
    if ledger["status"] == "draft":
        repo.set_published(conn, ledger_id, document_id)
    if created:
        audit.record(conn, service="tasks", principal=actor, action="ledger.publish", entity="ledger",
                     entity_id=ledger_id, after={"tasks_created": len(created), "document_id": document_id},
                     request_id=request_id)
    return {"ledger_id": ledger_id, "document_id": document_id, "tasks_created": len(created),
            "ledger": get(conn, actor=actor, ledger_id=ledger_id)}


# ---------------------------------------------------------------- 销号

def _refusal(conn: psycopg.Connection, item: dict) -> str | None:
    """Why a ledger item may not be signed off (销号) yet, or None."""
    if item["task_id"] is None:
        return "该问题尚未发布,不能销号 (not published)"
    if item["task_status"] == "closed":
        return "该问题已销号 (already signed off)"
    step = repo.completion_step(conn, item["task_id"])
    if step is None:
        return "整改完成情况报告尚未开启,不能销号 (no completion report yet)"
    if step["status"] != "approved":
        label = STATUS_LABELS.get(step["status"], step["status"])
        return f"整改完成情况报告尚未审核通过(当前状态:{label}),不能销号 (the completion report is not approved)"
    if evidence_required(item["reporting_calendar"] or {}) and not ((step["submission"] or {}).get("attachments")):
        return "整改完成情况报告没有佐证材料,不能销号 (no evidence attached)"
    return None


def sign_off_refusal(conn: psycopg.Connection, *, actor: Principal, ledger_id: int, item_id: int) -> dict:
    """The item when it may be signed off; otherwise a LedgerError saying why (404 or 409)."""
    _visible(conn, actor, ledger_id)
    item = repo.get_item(conn, ledger_id, item_id)
    if item is None:
        raise LedgerError(f"台账 {ledger_id} 中没有第 {item_id} 项 (item not found)", 404)
    reason = _refusal(conn, item)
    if reason:
        raise LedgerError(reason, 409)
    return item


def task_sign_off_refusal(conn: psycopg.Connection, task_id: int) -> str | None:
    """For the generic task sign-off (`POST /api/tasks/{id}/sign-off`): why the task of a
    ledger item may not be signed off yet, or None (also for tasks that are no ledger item)."""
    item = repo.get_item_by_task(conn, task_id)
    return _refusal(conn, item) if item else None


def after_sign_off(conn: psycopg.Connection, *, actor: Principal, ledger_id: int, request_id: str | None) -> str:
    """Close the ledger once every item is signed off; returns its status."""
    if repo.set_closed(conn, ledger_id):
        audit.record(conn, service="tasks", principal=actor, action="ledger.close", entity="ledger",
                     entity_id=ledger_id, before={"status": "published"}, after={"status": "closed"},
                     request_id=request_id)
    return repo.get_ledger(conn, ledger_id)["status"]
