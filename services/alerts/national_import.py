"""Importing the national system's exports: the 监测对象信息 export into the household
register (through the same chunked writer as our template, so the same file twice
changes nothing and a newer export writes `household.*` events only for what
changed), and the 行政村信息 export's populations into the regions, where the village
rule (3% / 5% with 1000 people) reads them.

Places are names in these exports (县 / 乡 / 村); they are found within the
uploader's jurisdiction. With `create_regions`, a township or village the register
does not know is created under the county the file names, with a code of the 9xx
range no statistical code uses (the county itself must exist).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from services.alerts import national_repository
from services.alerts.import_cells import CellError, int_value
from services.alerts.import_places import PlaceError, Village, Villages, load_villages, place_stem, same_place
from services.alerts.import_reader import ImportFileError
from services.alerts.import_rows import RowError
from services.alerts.import_writer import Connect, Outcome, import_rows
from services.alerts.national_persons import GUARANTEES, MONEY_KEYS, PersonRows
from services.alerts.national_reader import Sheet, data_rows
from services.common import audit
from services.common.auth import Principal
from services.common.units import jurisdiction_prefix

log = logging.getLogger(__name__)
LOCAL_CODES = range(901, 1000)  # codes given to regions an import creates


class Places:
    """县 / 乡 / 村 names to village codes; with `create`, unknown townships and villages
    are planned under the county named (`new` lists them, parents first)."""

    def __init__(self, villages: Villages, regions: list[dict], create: bool) -> None:
        self.villages = villages
        self.counties = [r for r in regions if r["level"] == "county"]
        self.townships = [r for r in regions if r["level"] == "township"]
        self.taken = set(villages.by_code) | {r["code"] for r in regions}
        self.create = create
        self.new: list[dict] = []

    def __call__(self, county: str | None, township: str | None, village: str | None) -> str:
        try:
            return self.villages.resolve(None, village, township, county)
        except PlaceError:
            if not (self.create and village and township) or self._known(village, township, county):
                raise
        return self._plan(county, township, village)

    def _known(self, village: str, township: str, county: str | None) -> bool:
        """A village of that name exists there (the error is about something else: namesakes)."""
        return any(same_place(township, v.township) and (not county or same_place(county, v.county))
                   for v in self.villages.by_stem.get(place_stem(village), []))

    def _plan(self, county: str | None, township: str, village: str) -> str:
        counties = [c for c in self.counties if county and same_place(county, c["name"])]
        if len(counties) != 1:
            raise PlaceError("county", f"县“{county or ''}”不在您的辖区内或不存在,不能在其下新建乡村 (unknown county)")
        c = counties[0]
        town = next((t for t in self.townships if t["parent_code"] == c["code"] and same_place(township, t["name"])),
                    None)
        if town is None:
            town = self._add(c["code"][:6], "000", township, "township", c["code"])
            self.townships.append(town)
        v = self._add(town["code"][:9], "", village, "village", town["code"])
        self.villages.by_code[v["code"]] = found = Village(v["code"], village, town["code"], township, c["code"],
                                                           c["name"])
        self.villages.by_stem[place_stem(village)].append(found)
        return v["code"]

    def _add(self, prefix: str, tail: str, name: str, level: str, parent: str) -> dict:
        code = next(f"{prefix}{n}{tail}" for n in LOCAL_CODES if f"{prefix}{n}{tail}" not in self.taken)
        self.taken.add(code)
        region = {"code": code, "name": name, "level": level, "parent_code": parent}
        self.new.append(region)
        return region


def import_persons(connect: Connect, content: bytes, sheet: Sheet, *, actor: Principal | None, outcome: Outcome,
                   job_id: int | None, dry_run: bool, period: str | None, create_regions: bool,
                   chunk_size: int | None, request_id: str | None,
                   on_progress: Callable[[Outcome], None] | None, on_total: Callable[[int], None],
                   on_read: Callable[[int], None] | None = None) -> list[RowError]:
    """The 监测对象信息 export into the register; returns every row error (for the error copy).
    `on_read` hears how many rows have been read, every thousand."""
    period = period or sheet.title_year
    if period is None and "period" not in sheet.columns and any(k in sheet.columns for k in (*MONEY_KEYS, *GUARANTEES)):
        raise ImportFileError("无法确定收支数据所属的年度:标题行中没有“2023年度”这样的年份,请指定期间 "
                              "(--period 2023) (period unknown)", 422, ["期间"])
    prefix = jurisdiction_prefix(actor.region_code, actor.region_level) if actor else ""
    with connect() as conn:
        places = Places(load_villages(conn, prefix), national_repository.regions_under(conn, prefix), create_regions)
    rows = PersonRows(sheet)
    for n, values in data_rows(content, sheet):
        rows.add(n, values)
        if on_read and len(rows.row_numbers) % 1000 == 0:
            on_read(len(rows.row_numbers))
    parsed = rows.households(places, period)
    outcome.rows = len(parsed.row_numbers)
    outcome.ignored_columns = sheet.ignored
    outcome.extra["regions_created" if not dry_run else "regions_to_create"] = [
        f"{r['name']}({r['code']})" for r in places.new]
    on_total(outcome.rows)
    if places.new and not dry_run:
        with connect() as conn, conn.transaction():
            national_repository.create_regions(conn, places.new)
            audit.record(conn, service="alerts", principal=actor, action="regions.create", entity="region",
                         entity_id=None, before=None, after={"regions": places.new}, request_id=request_id)
    import_rows(connect, parsed, actor=actor, outcome=outcome, job_id=job_id, chunk_size=chunk_size,
                dry_run=dry_run, request_id=request_id, on_progress=on_progress)
    return parsed.errors


def import_villages(connect: Connect, content: bytes, sheet: Sheet, *, actor: Principal | None, outcome: Outcome,
                    dry_run: bool, request_id: str | None) -> list[RowError]:
    """The 行政村信息 export: each village's 总人口数 becomes its population (乡村人口)."""
    prefix = jurisdiction_prefix(actor.region_code, actor.region_level) if actor else ""
    with connect() as conn:
        villages = load_villages(conn, prefix)
    cols = sheet.columns
    populations: dict[str, int] = {}
    errors: list[RowError] = []

    def cell(values, key):
        i = cols.get(key)
        v = values[i] if i is not None and i < len(values) else None
        return None if v == "" else v

    for n, values in data_rows(content, sheet):
        outcome.rows += 1
        try:
            population = int_value(cell(values, "population"))
        except CellError as e:
            errors.append(RowError(n, sheet.header("population"), f"总人口数{e}", "population"))
            continue
        if population is None or population < 0:
            errors.append(RowError(n, sheet.header("population"), "总人口数应为不小于0的整数", "population"))
            continue
        try:
            code = villages.resolve(None, _text(cell(values, "village")), _text(cell(values, "township")),
                                    _text(cell(values, "county")))
        except PlaceError as e:
            key = "village" if e.key == "village_code" else e.key
            errors.append(RowError(n, sheet.header(key), str(e), key))
            continue
        populations[code] = population
    changed = []
    if not dry_run:
        with connect() as conn, conn.transaction():
            changed = national_repository.set_populations(conn, populations)
            if changed:
                audit.record(conn, service="alerts", principal=actor, action="villages.population", entity="region",
                             entity_id=None, before={r["code"]: r["before"] for r in changed},
                             after={r["code"]: r["population"] for r in changed}, request_id=request_id)
    outcome.processed_rows = outcome.rows
    outcome.imported_rows = len(populations)
    outcome.error_rows = len({e.row for e in errors})
    outcome.errors = errors
    outcome.ignored_columns = sheet.ignored
    outcome.extra = {"villages": len(populations), "villages_changed": len(changed)}
    return errors


def _text(v) -> str | None:
    return str(v).strip() or None if v is not None else None

