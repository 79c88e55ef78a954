"""Saving checked rows: each chunk of `CHUNK_SIZE` rows ONE transaction together with
the job's progress, so a crash never leaves half a chunk and the job says how far the
committed part goes. Rows go through `register.save_household` / `save_record` (outbox
event and audit row in the same transaction), which skip unchanged data: importing
the same file twice changes nothing and a re-run after a crash continues where it
stopped. A blank cell never erases what the register holds.

Households of the national export also carry their members and their monitoring
record: members are replaced only when the people or their facts changed, the
monitoring record only when it differs (`alerts.household_monitoring`)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal

import psycopg
from pydantic import ValidationError

from services.alerts import national_repository, register
from services.alerts import repository as repo
from services.alerts.import_columns import HOUSEHOLD_KEYS, RECORD_ONLY
from services.alerts.import_reader import Table
from services.alerts.import_rows import Parsed, ParsedRow, RowError, schema_errors
from services.alerts.schemas import HouseholdIn, RecordIn
from services.common.auth import Principal

log = logging.getLogger(__name__)


CHUNK_SIZE = 500
Connect = Callable[[], AbstractContextManager[psycopg.Connection]]


@dataclass
class Outcome:
    """What an import did (or, dry, would do)."""

    rows: int = 0
    processed_rows: int = 0
    imported_rows: int = 0
    error_rows: int = 0  # among the processed rows
    households: set = field(default_factory=set)  # 户编号 of the imported rows
    records: int = 0
    households_changed: int = 0
    records_changed: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    job_id: int | None = None
    persons: int = 0  # members of the imported households (national export)
    ignored_columns: list[str] = field(default_factory=list)  # headers the importer does not read
    extra: dict = field(default_factory=dict)  # what one kind of file adds (regions created, villages…)

    @property
    def rows_with_errors(self) -> int:
        return len({e.row for e in self.errors})

    def summary(self, max_errors: int | None = None) -> dict:
        errors = self.errors if max_errors is None else self.errors[:max_errors]
        return {
            "rows": self.rows, "households": len(self.households), "records": self.records,
            "rows_with_errors": self.rows_with_errors, "households_changed": self.households_changed,
            "records_changed": self.records_changed, "dry_run": self.dry_run, "job_id": self.job_id,
            "persons": self.persons, "ignored_columns": self.ignored_columns, **self.extra,
            "errors": [e.as_dict() for e in errors],
        }


def _household_view(h: dict) -> dict:
    return {k: h[k] for k in HOUSEHOLD_KEYS}


def _record_view(r: dict) -> dict:
    return {f: (float(r[f]) if isinstance(r[f], Decimal) else r[f]) for f in repo.RECORD_FIELDS}


@dataclass
class Known:
    """What the register holds for the rows of one chunk, read in two queries
    (and kept up to date as the chunk saves), so each row costs only its writes."""

    households: dict[str, dict]  # 户编号 → household
    records: dict[tuple[str, str], dict]  # (户编号, 期间) → record
    members: dict[str, list[tuple]] = field(default_factory=dict)  # 户编号 → members (national export)
    monitoring: dict[str, dict] = field(default_factory=dict)  # 户编号 → monitoring record

    @classmethod
    def load(cls, conn: psycopg.Connection, rows: list[ParsedRow]) -> Known:
        numbers = sorted({p.household_no for p in rows})
        keys = sorted({(p.household_no, p.record["period"]) for p in rows if p.record is not None})
        households = {h["household_no"]: h for h in conn.execute(
            f"SELECT {repo.HOUSEHOLD_COLUMNS} FROM alerts.households h WHERE h.household_no = ANY(%s)", (numbers,))}
        records = {}
        if keys:
            for r in conn.execute(
                """SELECT h.household_no AS _no, r.* FROM alerts.household_records r
                   JOIN alerts.households h ON h.id = r.household_id
                   WHERE (h.household_no, r.period) IN (SELECT * FROM unnest(%s::text[], %s::text[]))""",
                ([k[0] for k in keys], [k[1] for k in keys]),
            ):
                records[(r.pop("_no"), r["period"])] = r
        known = cls(households, records)
        ids = {households[p.household_no]["id"]: p.household_no for p in rows
               if p.monitoring is not None and p.household_no in households}
        if ids:
            for i, members in national_repository.members_of(conn, list(ids)).items():
                known.members[ids[i]] = member_key(members)
            for i, m in national_repository.monitoring_of(conn, list(ids)).items():
                known.monitoring[ids[i]] = monitoring_view(m)
        return known


def member_key(members: list[dict]) -> list[tuple]:
    """Members as compared: the same people with the same facts, in any order."""
    return sorted(tuple(m.get(f) or "" for f in national_repository.MEMBER_FIELDS) for m in members)


def monitoring_view(m: dict) -> dict:
    return {f: (list(m[f]) if f == "risks" else m[f]) if m.get(f) is not None else ([] if f == "risks" else None)
            for f in national_repository.MONITORING_FIELDS}


@dataclass
class Plan:
    """One row checked against the register, before anything is written."""

    row: ParsedRow
    existing: dict | None
    household: dict | None  # to save; None when unchanged
    record: dict | None  # to save; None when unchanged or none given
    monitoring: dict | None = None  # to save; None when unchanged or none given


def plan_row(p: ParsedRow, known: Known, actor: Principal | None) -> Plan:
    """The row merged with what the register holds (blank cells keep it) and checked
    again by the schemas; raises RegisterError or ValidationError, writing nothing."""
    existing = known.households.get(p.household_no)
    if existing is not None and actor is not None and not actor.covers_region(existing["village_code"]):
        raise register.RegisterError(f"户编号 {p.household_no} 属于其他辖区 (household outside your jurisdiction)", 403)
    data = {**_household_view(existing), **p.household} if existing else dict(p.household)
    data = HouseholdIn.model_validate(data).model_dump()
    unchanged = existing is not None and all(existing[k] == data[k] for k in HOUSEHOLD_KEYS)
    if data["member_list"]:
        if existing is not None and known.members.get(p.household_no) == member_key(data["member_list"]):
            data["member_list"] = []  # the same people: the register keeps its rows
        else:
            unchanged = False
    monitoring = None
    if p.monitoring is not None:
        monitoring = monitoring_view(p.monitoring)
        if existing is not None and known.monitoring.get(p.household_no) == monitoring:
            monitoring = None
    record = None
    if p.record is not None:
        before = known.records.get((p.household_no, p.record["period"]))
        record = {**_record_view(before), **p.record} if before else dict(p.record)
        record = RecordIn.model_validate(record).model_dump()
        if before is not None and all(register.same_value(before.get(f), record.get(f)) for f in repo.RECORD_FIELDS):
            record = None
    return Plan(p, existing, None if unchanged else data, record, monitoring)


def write_row(conn: psycopg.Connection, plan: Plan, known: Known, *, actor: Principal | None,
              request_id: str | None, source: str) -> tuple[bool, bool]:
    """Save what `plan_row` found changed, through the register (outbox event and audit row
    in this transaction); returns (household changed, record changed)."""
    household = plan.existing
    if plan.household is not None:
        household = register.save_household(conn, actor=actor, data=plan.household, request_id=request_id,
                                            source=source)
    record_changed = False
    if plan.record is not None:
        saved, record_changed = register.save_record(conn, actor=actor, household_id=household["id"],
                                                     record=plan.record, request_id=request_id, source=source)
    if plan.monitoring is not None:
        national_repository.save_monitoring(conn, household["id"], plan.monitoring)
    known.households[plan.row.household_no] = household
    if plan.record is not None:
        known.records[(plan.row.household_no, plan.record["period"])] = saved
    remember(plan, known)
    return plan.household is not None, record_changed


def remember(plan: Plan, known: Known) -> None:
    """What the plan saves (or, dry, would save), for the later rows of the chunk."""
    no = plan.row.household_no
    if plan.household is not None and plan.household["member_list"]:
        known.members[no] = member_key(plan.household["member_list"])
    if plan.monitoring is not None:
        known.monitoring[no] = plan.monitoring


def pretend(plan: Plan, known: Known) -> tuple[bool, bool]:
    """A dry run's write: nothing written, the chunk's later rows see what would be."""
    no = plan.row.household_no
    if plan.household is not None:
        known.households[no] = {**(plan.existing or {}), **plan.household}
    if plan.record is not None:
        known.records[(no, plan.record["period"])] = plan.record
    remember(plan, known)
    return plan.household is not None, plan.record is not None


ROW_FAILURES = (register.RegisterError, ValidationError, psycopg.errors.IntegrityError, psycopg.errors.DataError)


class _RetryWithSavepoints(Exception):
    """The database refused a row in a chunk run without savepoints: run the chunk again, row by row."""


def _row_failure(e: Exception, p: ParsedRow, table: Table) -> list[RowError]:
    if isinstance(e, ValidationError):
        return schema_errors(e, p.row, table, [*HOUSEHOLD_KEYS, "period", *RECORD_ONLY])
    if isinstance(e, register.RegisterError):
        key = "household_no" if "户编号" in str(e) else "village_code"
        return [RowError(p.row, table.header(key), str(e), key)]
    return [RowError(p.row, "", f"数据库拒绝了这一行:{type(e).__name__} (rejected by the database)")]


def chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def import_rows(connect: Connect, parsed: Parsed, *, actor: Principal | None, outcome: Outcome | None = None,
                job_id: int | None = None, chunk_size: int | None = None, dry_run: bool = False,
                request_id: str | None = None, on_progress: Callable[[Outcome], None] | None = None) -> Outcome:
    """Save the valid rows in chunks, each chunk one transaction with the job's progress.

    Every row is first checked against what the register holds (a household of
    another jurisdiction, figures that no longer add up with the cells left blank):
    such a row becomes a row error and writes nothing. Unchanged rows write nothing
    either. A row the database itself refuses makes the chunk run again with a
    savepoint per row, so that row alone is left out. Any other failure aborts the
    chunk and propagates, leaving the earlier chunks committed and recorded in the job.
    Dry: every row is checked against the register the same way and nothing is
    written (no write is even tried), so the counts say what would change."""
    size = chunk_size or CHUNK_SIZE
    outcome = outcome or Outcome()
    outcome.rows, outcome.dry_run, outcome.job_id = len(parsed.row_numbers), dry_run, job_id
    source = f"import:{job_id}" if job_id else "import"
    request_id = request_id or (f"import-{job_id}" if job_id else None)
    parse_errors: dict[int, list[RowError]] = defaultdict(list)
    for e in parsed.errors:
        parse_errors[e.row].append(e)

    def process(conn: psycopg.Connection, rows: list[int], savepoints: bool) -> Outcome:
        done = Outcome(processed_rows=len(rows))
        known = Known.load(conn, [parsed.valid[n] for n in rows if n in parsed.valid])
        for n in rows:
            if n in parse_errors:
                done.errors += parse_errors[n]
                done.error_rows += 1
                continue
            p = parsed.valid.get(n)
            if p is None:  # a member's row of a household saved with its first row
                done.imported_rows += 1
                continue
            try:
                plan = plan_row(p, known, actor)
                if dry_run:
                    h_changed, r_changed = pretend(plan, known)
                elif savepoints:
                    with conn.transaction():
                        h_changed, r_changed = write_row(conn, plan, known, actor=actor, request_id=request_id,
                                                         source=source)
                else:
                    try:
                        h_changed, r_changed = write_row(conn, plan, known, actor=actor, request_id=request_id,
                                                         source=source)
                    except ROW_FAILURES as e:
                        raise _RetryWithSavepoints() from e
            except ROW_FAILURES as e:
                done.errors += _row_failure(e, p, parsed.table)
                done.error_rows += 1
                continue
            done.imported_rows += 1
            done.households.add(p.household_no)
            done.records += p.record is not None
            done.persons += p.persons
            done.households_changed += h_changed
            done.records_changed += r_changed
        return done

    def run_chunk(conn: psycopg.Connection, rows: list[int]) -> Outcome:
        """The chunk in one transaction with the job's progress (dry: read only)."""
        for savepoints in (False, True):
            try:
                with conn.transaction():
                    done = process(conn, rows, savepoints)
                    if job_id is not None and not dry_run:
                        conn.execute(
                            """UPDATE alerts.import_jobs SET processed_rows = processed_rows + %s,
                                   imported_rows = imported_rows + %s, error_rows = error_rows + %s,
                                   updated_at = now()
                               WHERE id = %s""",
                            (done.processed_rows, done.imported_rows, done.error_rows, job_id),
                        )
                return done
            except _RetryWithSavepoints:
                log.info("a row of rows %s–%s was refused by the database: again with savepoints", rows[0], rows[-1])
        raise AssertionError("unreachable")

    def add(done: Outcome) -> None:
        outcome.processed_rows += done.processed_rows
        outcome.imported_rows += done.imported_rows
        outcome.error_rows += done.error_rows
        outcome.households |= done.households
        outcome.records += done.records
        outcome.persons += done.persons
        outcome.households_changed += done.households_changed
        outcome.records_changed += done.records_changed
        outcome.errors += done.errors
        if on_progress:
            on_progress(outcome)

    if dry_run:
        with connect() as conn:
            for rows in chunks(parsed.row_numbers, size):
                add(run_chunk(conn, rows))
        return outcome
    for rows in chunks(parsed.row_numbers, size):
        with connect() as conn:
            done = run_chunk(conn, rows)
        add(done)
    return outcome
