"""Attachments: a unit uploads a file, then names its id when it submits a report or
evidence; the file is kept in PostgreSQL."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, HTTPException, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from services.common import audit
from services.common.auth import Principal, require
from services.common.http import DbId

router = APIRouter(prefix="/api/attachments", tags=["附件"])
MAX_BYTES = 10 * 1024 * 1024


class Attachment(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str


@router.post("", response_model=Attachment, status_code=201, summary="上传附件(不超过 10 MB)")
async def upload(request: Request, file: UploadFile = File(...), p: Principal = Depends(require())):
    content = await file.read(MAX_BYTES + 1)
    if len(content) > MAX_BYTES:
        raise HTTPException(status_code=413, detail="附件超过 10 MB 上限 (file too large)")
    if not content:
        raise HTTPException(status_code=422, detail="附件为空 (empty file)")
    name = (file.filename or "附件").replace("/", "_")[:200]
    sha = hashlib.sha256(content).hexdigest()
    with request.app.state.pool.connection() as conn:
        row = conn.execute(
            """INSERT INTO tasks.attachments (filename, content_type, size, sha256, content, unit_id, uploaded_by)
               VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id, filename, content_type, size, sha256""",
            (name, file.content_type or "application/octet-stream", len(content), sha, content, p.unit_id, p.user_id),
        ).fetchone()
        audit.record(conn, service="tasks", principal=p, action="attachment.upload", entity="attachment",
                     entity_id=row["id"], after={"filename": name, "size": len(content), "sha256": sha},
                     request_id=request.state.request_id)
    return row


@router.get("/{attachment_id}", summary="下载附件")
def download(attachment_id: DbId, request: Request, p: Principal = Depends(require())):
    with request.app.state.pool.connection() as conn:
        row = conn.execute(
            """SELECT a.filename, a.content_type, a.content, a.unit_id, u.region_code FROM tasks.attachments a
               JOIN common.units u ON u.id = a.unit_id WHERE a.id = %s""",
            (attachment_id,),
        ).fetchone()
    allowed = row is not None and (
        row["unit_id"] == p.unit_id or (p.has_role("office_admin", "leader") and p.covers_region(row["region_code"]))
    )
    if not allowed:
        raise HTTPException(status_code=404, detail=f"附件 {attachment_id} 不存在 (attachment not found)")
    return Response(bytes(row["content"]), media_type=row["content_type"],
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(row['filename'])}"})


def check_own(conn, p: Principal, attachment_ids: list[int]) -> None:
    """Refuse attachment ids that are not the caller's unit's uploads."""
    if not attachment_ids:
        return
    found = {r["id"] for r in conn.execute(
        "SELECT id FROM tasks.attachments WHERE id = ANY(%s) AND unit_id = %s", (attachment_ids, p.unit_id))}
    missing = [i for i in attachment_ids if i not in found]
    if missing:
        raise HTTPException(status_code=422, detail=f"附件不存在或不属于本单位: {missing} (unknown attachments)")
