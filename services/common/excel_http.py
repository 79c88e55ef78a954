"""Any list route of the APIs as an Excel download (`?format=xlsx`): the query parameter,
the OpenAPI description of the file response, the cap on exported rows and the
download itself (a dated file name in Chinese, the export time in the title)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal
from urllib.parse import quote

from fastapi import HTTPException, Query
from fastapi.responses import Response

from services.common import excel

EXPORT_MAX_ROWS = 20_000
XLSX_RESPONSE = {200: {"content": {excel.XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
                       "description": "JSON;或 format=xlsx 时为 Excel 文件(全部符合条件的行,不分页)"}}

Format = Literal["json", "xlsx"]


async def export_format(fmt: Format = Query("json", alias="format", description="json,或 xlsx 下载 Excel")) -> Format:
    return fmt  # async: no I/O, no trip through the thread pool


def export_rows(total: int, fetch: Callable[[int, int], list[dict]]) -> list[dict]:
    """Every row of the list (`fetch(limit, offset)`), refused with a clear reason above the cap."""
    if total > EXPORT_MAX_ROWS:
        raise _too_many(f"共 {total} 行")
    return fetch(EXPORT_MAX_ROWS, 0)


def export_uncounted(fetch: Callable[[int, int], list[dict]]) -> list[dict]:
    """`export_rows` for a list with no count query: one row more than the cap is read to know."""
    rows = fetch(EXPORT_MAX_ROWS + 1, 0)
    if len(rows) > EXPORT_MAX_ROWS:
        raise _too_many(f"多于 {EXPORT_MAX_ROWS} 行")
    return rows


def _too_many(how_many: str) -> HTTPException:
    return HTTPException(status_code=422, detail=f"导出结果{how_many},超过上限 {EXPORT_MAX_ROWS} 行,请缩小筛选范围 "
                                                 "(too many rows to export)")


def xlsx_download(title: str, filename: str, columns: list[excel.Column], rows: list[dict]) -> Response:
    now = datetime.now(excel.TZ)
    stamped = f"{filename}-{now:%Y%m%d}.xlsx"
    return Response(
        excel.to_xlsx(f"{title}(导出时间 {now:%Y-%m-%d %H:%M})", columns, rows, sheet_name=title),
        media_type=excel.XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f"attachment; filename=\"export.xlsx\"; filename*=UTF-8''{quote(stamped)}"},
    )
