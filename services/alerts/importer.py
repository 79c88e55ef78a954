"""Batch import of households and their period records from Excel (.xlsx) or CSV: the
entry point (`run_import`, the import jobs) and the names the API, the CLI and the
template use. The work is split by what it does:

- `import_columns`: the template's columns and how a header names one of them;
- `import_reader`: the file's kind, CSV encodings, the header row found by its names
  under title rows (`read_table`);
- `import_cells`: cells as officials write them (是/否, 20,000元, 2023年5月, numbers
  Excel stored for ID numbers);
- `import_places`: villages by code or by name within the uploader's jurisdiction;
- `import_rows`: data rows as the dicts `HouseholdIn` / `RecordIn` validate, or errors
  naming the Excel row, the column and the reason in Chinese (`parse_table`);
- `import_writer`: saving in chunks, each ONE transaction with the job's progress;
  unchanged data writes nothing, so the same file twice changes nothing;
- `import_error_copy`: the uploaded file back with a 错误说明 column.

A blank cell never erases what the register holds: it means "not given".
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import psycopg
from psycopg.types.json import Jsonb

from services.alerts.import_columns import TEMPLATE_COLUMNS, header_key
from services.alerts.import_error_copy import ERROR_HEADER, error_workbook, streamed_error_workbook
from services.alerts.import_places import Village, Villages, load_villages
from services.alerts.import_reader import ImportFileError, Table, read_table
from services.alerts.import_rows import RowError, parse_table
from services.alerts.import_writer import Connect, Outcome, import_rows
from services.alerts.national_import import import_persons, import_villages
from services.alerts.national_reader import Sheet, all_rows, detect
from services.common.auth import Principal
from services.common.units import jurisdiction_prefix

# The names the API, the CLI, the template and the tests use.
__all__ = [
    "ERROR_HEADER", "MAX_SUMMARY_ERRORS", "MAX_UPLOAD_BYTES", "TEMPLATE_COLUMNS", "ImportFileError", "Outcome",
    "Sheet", "Table", "Village", "Villages", "create_job", "error_workbook", "get_job", "header_key", "load_villages",
    "parse_table", "read_file", "read_table", "run_import",
]

log = logging.getLogger(__name__)


MAX_UPLOAD_BYTES = 64 * 1024 * 1024  # a county's national export of 100,000 persons is about 35 MB
MAX_SUMMARY_ERRORS = 1000


def create_job(conn: psycopg.Connection, filename: str, uploaded_by: int | None) -> int:
    return conn.execute(
        "INSERT INTO alerts.import_jobs (filename, uploaded_by) VALUES (%s, %s) RETURNING id",
        (filename[:255], uploaded_by),
    ).fetchone()["id"]


def get_job(conn: psycopg.Connection, job_id: int) -> dict | None:
    return conn.execute(
        """SELECT j.id, j.filename, j.uploaded_by, j.status, j.total_rows, j.processed_rows, j.imported_rows,
                  j.error_rows, j.error_file IS NOT NULL AS has_error_file, j.summary, j.message, j.created_at,
                  j.updated_at, j.finished_at, r.code AS uploader_region, now() AS now
           FROM alerts.import_jobs j LEFT JOIN common.users u ON u.id = j.uploaded_by
           LEFT JOIN common.units n ON n.id = u.unit_id LEFT JOIN common.regions r ON r.code = n.region_code
           WHERE j.id = %s""",
        (job_id,),
    ).fetchone()


def _set_job(connect: Connect, job_id: int, sql: str, params: tuple) -> None:
    with connect() as conn:
        with conn.transaction():
            conn.execute(f"UPDATE alerts.import_jobs SET {sql}, updated_at = now() WHERE id = %s", (*params, job_id))


def read_file(content: bytes, filename: str, *, header_only: bool = False) -> Table | Sheet:
    """What the file is: a national export (`Sheet`: 监测对象信息 or 行政村信息), else our
    template (`Table`); ImportFileError when it cannot be imported, naming why."""
    return detect(content, filename) or read_table(content, filename, header_only=header_only)


def run_import(connect: Connect, content: bytes, filename: str, *, actor: Principal | None,
               job_id: int | None = None, dry_run: bool = False, chunk_size: int | None = None,
               request_id: str | None = None, on_progress: Callable[[Outcome], None] | None = None,
               table: Table | Sheet | None = None, period: str | None = None, create_regions: bool = False,
               error_file: bool = True, on_read: Callable[[int], None] | None = None) -> tuple[Outcome, bytes | None]:
    """Read, check and import a file; with a job, record every step of it there.
    Returns what happened and the error copy of the file (None without errors, or when
    `error_file` is false and there is no job).
    A failure marks the job failed (with the error copy of what was found so far) and propagates."""
    outcome = Outcome(dry_run=dry_run, job_id=job_id)
    found: list[RowError] = []

    def total(rows: int) -> None:
        if job_id is not None:
            _set_job(connect, job_id, "total_rows = %s", (rows,))
        if on_progress:
            on_progress(outcome)

    try:
        if job_id is not None:
            _set_job(connect, job_id, "status = 'running'", ())
        table = table or read_file(content, filename)
        if isinstance(table, Sheet) and table.kind == "persons":
            found = import_persons(connect, content, table, actor=actor, outcome=outcome, job_id=job_id,
                                   dry_run=dry_run, period=period, create_regions=create_regions,
                                   chunk_size=chunk_size, request_id=request_id, on_progress=on_progress,
                                   on_total=total, on_read=on_read)
        elif isinstance(table, Sheet):
            found = import_villages(connect, content, table, actor=actor, outcome=outcome, dry_run=dry_run,
                                    request_id=request_id)
            total(outcome.rows)
        else:
            prefix = jurisdiction_prefix(actor.region_code, actor.region_level) if actor else ""
            with connect() as conn:
                villages = load_villages(conn, prefix, table.mentioned_codes())
            parsed = parse_table(table, villages)
            found = parsed.errors
            outcome.rows = len(parsed.row_numbers)
            total(outcome.rows)
            import_rows(connect, parsed, actor=actor, outcome=outcome, job_id=job_id, chunk_size=chunk_size,
                        dry_run=dry_run, request_id=request_id, on_progress=on_progress)
    except Exception as e:
        if job_id is not None:
            log.exception("import job %s failed after %s rows", job_id, outcome.processed_rows)
            if isinstance(e, ImportFileError):
                message = str(e)
            else:
                message = (f"导入在第 {outcome.processed_rows + 1} 行之后的一批数据中中断 ({type(e).__name__}),"
                           f"前 {outcome.processed_rows} 行已处理并保存;重新上传同一文件即可继续,已导入的数据不会重复")
            errors = sorted({*outcome.errors, *found}, key=lambda x: x.row)
            copy = _safe_error_workbook(content, table, errors)
            _set_job(connect, job_id, "status = 'failed', message = %s, error_file = %s, summary = %s, "
                     "finished_at = now()",
                     (message, copy, Jsonb({**outcome.summary(MAX_SUMMARY_ERRORS), "errors": [
                         x.as_dict() for x in errors[:MAX_SUMMARY_ERRORS]]})))
        raise
    copy = _safe_error_workbook(content, table, outcome.errors) if error_file or job_id is not None else None
    if job_id is not None:
        _set_job(connect, job_id, "status = 'done', error_file = %s, summary = %s, finished_at = now()",
                 (copy, Jsonb(outcome.summary(MAX_SUMMARY_ERRORS))))
    return outcome, copy


def _safe_error_workbook(content: bytes, table: Table | Sheet | None, errors: list[RowError]) -> bytes | None:
    if table is None or not errors:
        return None
    try:
        if isinstance(table, Sheet):
            return streamed_error_workbook(all_rows(content, table), table.header_row, table.columns, errors)
        return error_workbook(content, table, errors)
    except Exception:  # noqa: BLE001 (the import's result matters more than its error copy)
        log.exception("could not write the error copy of an import file")
        return None

