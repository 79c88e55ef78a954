"""Policy ingestion: a document uploaded becomes a draft of measures, the office
reviews it, and publishing turns each measure into a task with its units,
targets, deadlines and reporting calendar.

Every function runs inside the caller's transaction (the request handler or the
demo loader owns it), writes the audit row and the outbox event there, and never
commits.
"""

from __future__ import annotations

import hashlib
from pathlib import PurePath

import psycopg

from services.common import audit
from services.common.auth import Principal
from services.common.events import new_envelope, write_outbox
from services.common.units import known_names, resolve_names
from services.tasks import policy_repository as repo
from services.tasks import repository as registry
from services.tasks.calendars import calendar_for
from services.tasks.policy_parser import ParseError, document_to_dict, parse_bytes
from services.tasks.review import ReviewError, diff_documents, merge_measures, names_of, split_measure, task_due_date, unresolved_names

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
ACCEPTED_TYPES = {
    ".txt": "text/plain",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".html": "text/html",
    ".htm": "text/html",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class PolicyError(ValueError):
    """A refusal with the HTTP status that says why and a message for the office."""

    def __init__(self, message: str, status: int = 422, extra: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.extra = extra or {}


def _suffix(filename: str) -> str:
    return PurePath(filename or "").suffix.lower()


def check_upload(filename: str, size: int) -> None:
    if size > MAX_UPLOAD_BYTES:
        raise PolicyError(f"文件超过 5 MB 上限 ({size} 字节) (file too large)", 413)
    if _suffix(filename) not in ACCEPTED_TYPES:
        raise PolicyError(
            f"不支持的文件类型 {_suffix(filename) or '(无扩展名)'},请上传 .txt .docx .html .xlsx (unsupported type)", 415
        )
    if size == 0:
        raise PolicyError("文件为空 (empty file)", 422)


def resolution(conn: psycopg.Connection, region_code: str, measures: list[dict]) -> dict[str, dict]:
    """For every unit name in the measures: what the registry makes of it."""
    names = sorted({n for m in measures for n in names_of(m)})
    return {
        r.written: {"written": r.written, "kind": r.kind, "unit_ids": list(r.unit_ids)}
        for r in resolve_names(conn, region_code, names)
    }


def upload(conn: psycopg.Connection, *, actor: Principal, region_code: str, filename: str, content: bytes,
           request_id: str | None) -> dict:
    """Parse and store a document as a draft; returns its id and what needs the office's attention."""
    check_upload(filename, len(content))
    if not actor.covers_region(region_code) or registry.get_region(conn, region_code) is None:
        raise PolicyError(f"区划 {region_code} 不在您的辖区内 (region outside your jurisdiction)", 403)
    try:
        parsed = document_to_dict(parse_bytes(content, filename, known_names(conn, region_code)))
    except ParseError as e:
        raise PolicyError(f"无法解析: {e.reason}", 422) from None
    sha = hashlib.sha256(content).hexdigest()
    published = repo.find_published_by_title(conn, region_code, parsed.get("title"))
    document_id = repo.insert_document(
        conn, region_code=region_code, parsed=parsed, filename=filename, content_type=ACCEPTED_TYPES[_suffix(filename)],
        content=content, sha256=sha, uploaded_by=actor.user_id, amends_id=published["id"] if published else None,
    )
    repo.insert_measures(conn, document_id, parsed["measures"])
    audit.record(conn, service="tasks", principal=actor, action="policy.upload", entity="policy_document",
                 entity_id=document_id, after={"filename": filename, "title": parsed.get("title"),
                                               "measures": len(parsed["measures"]), "sha256": sha},
                 request_id=request_id)
    return draft(conn, document_id)


def draft(conn: psycopg.Connection, document_id: int) -> dict:
    """The document with its measures, each unit name resolved, and the names still to confirm."""
    doc = repo.get_document(conn, document_id)
    if doc is None:
        raise PolicyError(f"文件 {document_id} 不存在 (document not found)", 404)
    measures = repo.list_measures(conn, document_id)
    resolved = resolution(conn, doc["region_code"], measures)
    for m in measures:
        m["resolved"] = {
            "lead_units": [resolved[n] for n in m["lead_units"]],
            "responsible_units": [resolved[n] for n in m["responsible_units"]],
        }
    unknown = unresolved_names(measures, {k: v["kind"] for k, v in resolved.items()})
    return {
        **{k: v for k, v in doc.items() if k != "parsed"},
        "targets": doc["parsed"].get("targets", []),
        "measures": measures,
        "proposed_units": unknown,
        "measure_count": len(measures),
    }


def _editable(conn: psycopg.Connection, actor: Principal, document_id: int) -> dict:
    doc = repo.get_document(conn, document_id, for_update=True)
    if doc is None or not actor.covers_region(doc["region_code"]):
        raise PolicyError(f"文件 {document_id} 不存在 (document not found)", 404)
    if doc["status"] != "draft":
        raise PolicyError("文件已发布,不能再修改;请上传修订版 (already published: upload an amended version)", 409)
    return doc


def edit_measure(conn: psycopg.Connection, *, actor: Principal, document_id: int, measure_id: int, changes: dict,
                 request_id: str | None) -> dict:
    _editable(conn, actor, document_id)
    before = next((m for m in repo.list_measures(conn, document_id) if m["id"] == measure_id), None)
    if before is None:
        raise PolicyError(f"措施 {measure_id} 不在文件 {document_id} 中 (measure not found)", 404)
    repo.update_measure(conn, measure_id, {**changes, "edited": True})
    audit.record(conn, service="tasks", principal=actor, action="policy.measure.edit", entity="draft_measure",
                 entity_id=measure_id, before={k: before[k] for k in changes}, after=changes, request_id=request_id)
    return draft(conn, document_id)


def restructure(conn: psycopg.Connection, *, actor: Principal, document_id: int, merge_ids: list[int] | None = None,
                split_id: int | None = None, parts: list[dict] | None = None, request_id: str | None = None) -> dict:
    """Merge consecutive measures into one, or split one into several."""
    _editable(conn, actor, document_id)
    measures = repo.list_measures(conn, document_id)
    ids = [m["id"] for m in measures]
    try:
        if merge_ids:
            if any(i not in ids for i in merge_ids):
                raise PolicyError("要合并的措施不在本文件中 (measure not found)", 404)
            positions = sorted(ids.index(i) for i in merge_ids)
            if positions != list(range(positions[0], positions[0] + len(positions))):
                raise PolicyError("只能合并相邻的措施 (measures to merge must be consecutive)", 422)
            merged = merge_measures([measures[p] for p in positions])
            measures = measures[: positions[0]] + [merged] + measures[positions[-1] + 1:]
            action, detail = "policy.measure.merge", {"merged": merge_ids}
        else:
            if split_id not in ids:
                raise PolicyError(f"措施 {split_id} 不在本文件中 (measure not found)", 404)
            at = ids.index(split_id)
            pieces = split_measure(measures[at], parts or [])
            pieces[0]["id"] = split_id
            for piece in pieces[1:]:
                piece.pop("id", None)
            measures = measures[:at] + pieces + measures[at + 1:]
            action, detail = "policy.measure.split", {"split": split_id, "parts": len(pieces)}
    except ReviewError as e:
        raise PolicyError(str(e), 422) from None
    repo.replace_measures(conn, document_id, measures)
    audit.record(conn, service="tasks", principal=actor, action=action, entity="policy_document",
                 entity_id=document_id, after=detail, request_id=request_id)
    return draft(conn, document_id)


def confirm_unit(conn: psycopg.Connection, *, actor: Principal, document_id: int, name: str, unit_id: int | None,
                 kind: str, request_id: str | None) -> dict:
    """The office confirms a proposed name: as a new unit, or as another name of a known one."""
    doc = _editable(conn, actor, document_id)
    if unit_id is None:
        if registry.find_unit_by_name(conn, doc["region_code"], name):
            raise PolicyError(f"单位 {name} 已存在 (unit exists)", 409)
        unit = registry.insert_unit(conn, name, [], kind, doc["region_code"])
        audit.record(conn, service="tasks", principal=actor, action="unit.create", entity="unit", entity_id=unit["id"],
                     after=dict(unit), request_id=request_id)
    else:
        unit = registry.get_unit(conn, unit_id)
        if unit is None or not actor.covers_region(unit["region_code"]):
            raise PolicyError(f"单位 {unit_id} 不存在 (unit not found)", 404)
        registry.add_alias(conn, unit_id, name)
        audit.record(conn, service="tasks", principal=actor, action="unit.alias", entity="unit", entity_id=unit_id,
                     before={"aliases": unit["aliases"]}, after={"aliases": unit["aliases"] + [name]},
                     request_id=request_id)
    return draft(conn, document_id)


def publish(conn: psycopg.Connection, *, actor: Principal, document_id: int, request_id: str | None) -> dict:
    """One task per measure, each with a `task.published` event; publishing again creates nothing."""
    doc = repo.get_document(conn, document_id, for_update=True)
    if doc is None or not actor.covers_region(doc["region_code"]):
        raise PolicyError(f"文件 {document_id} 不存在 (document not found)", 404)
    current = draft(conn, document_id)
    if doc["status"] == "draft" and current["proposed_units"]:
        raise PolicyError(
            "还有未确认的单位,请先确认后再发布 (confirm the proposed units first): " + "、".join(current["proposed_units"]),
            409, {"proposed_units": current["proposed_units"]},
        )
    calendar = calendar_for(doc["region_code"])
    created = []
    for m in current["measures"]:
        lead_ids = sorted({i for r in m["resolved"]["lead_units"] for i in r["unit_ids"]})
        resp_ids = sorted({i for r in m["resolved"]["responsible_units"] for i in r["unit_ids"]})
        due_at = task_due_date(m["deadlines"])
        task_id = repo.insert_task(conn, document_id=document_id, measure=m, region_code=doc["region_code"],
                                   lead_unit_ids=lead_ids, responsible_unit_ids=resp_ids, due_at=due_at,
                                   reporting_calendar=calendar)
        if task_id is None:
            continue
        created.append(task_id)
        write_outbox(conn, "tasks", "tasks.events", new_envelope(
            "task.published", source="tasks", entity_id=str(task_id), key=f"task-{task_id}",
            regions={"county": doc["region_code"] if doc["region_code"][6:] == "000000" else None},
            payload={"task_id": task_id, "document_id": document_id, "ref": m["ref"], "title": m["title"],
                     "region_code": doc["region_code"], "lead_unit_ids": lead_ids, "responsible_unit_ids": resp_ids,
                     "due_at": due_at, "targets": m["targets"]},
        ))
    if doc["status"] == "draft":
        repo.set_status(conn, document_id, "published")
        if doc["amends_id"]:
            repo.set_status(conn, doc["amends_id"], "superseded")
    if created:
        audit.record(conn, service="tasks", principal=actor, action="policy.publish", entity="policy_document",
                     entity_id=document_id, after={"tasks_created": len(created)}, request_id=request_id)
    return {"document_id": document_id, "tasks_created": len(created), "tasks": repo.list_tasks(conn, document_id)}


def changes_against_published(conn: psycopg.Connection, *, actor: Principal, document_id: int) -> dict:
    """What this (amended) version changes against the published version it amends."""
    doc = repo.get_document(conn, document_id)
    if doc is None or not actor.covers_region(doc["region_code"]):
        raise PolicyError(f"文件 {document_id} 不存在 (document not found)", 404)
    if not doc["amends_id"]:
        return {"document_id": document_id, "amends_id": None, "changes": []}
    changes = diff_documents(repo.list_measures(conn, doc["amends_id"]), repo.list_measures(conn, document_id))
    return {"document_id": document_id, "amends_id": doc["amends_id"], "changes": [c.__dict__ for c in changes]}
