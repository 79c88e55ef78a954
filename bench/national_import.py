"""Benchmark: reading the national monitoring system's 监测对象信息 export.

Writes a `--persons` (default 100,000) export in its real shape — two title rows, the
header on row 3, one row per person, 177 columns (the ones the importer reads, the
ones it ignores, land and living conditions), households of 1 to 6 members in the 45
villages of the demo county, 0.5% of the rows wrong in one of the ways the importer
reports — then measures in the same run:

- raw: iterating every row of the sheet with openpyxl in read-only mode, doing
  nothing else (what any Python reader of the file costs at least);
- importer: `xianjie households import FILE --dry-run --format json` as a separate
  process (the whole command: start-up, header detection, every row read and checked,
  households built and validated, each checked against the register in PostgreSQL,
  nothing written), its wall time and its peak RSS (from wait4).

`ratio` = importer rate / raw rate (goal ≥ 1.0); `peak_rss_mb` goal ≤ 500.

PostgreSQL: DATABASE_URL when set (a scratch database: migrations and the demo
registry are applied), otherwise an embedded server started here and removed.

Usage:  .venv/bin/python bench/national_import.py [--persons 100000] [--keep FILE]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

from services.alerts.national_columns import ASSISTANCE  # noqa: E402
from services.alerts.validation import ID_CHECK, ID_WEIGHTS  # noqa: E402

READ = ["县", "乡", "村", "户编号", "姓名", "证件号码", "证件类型", "与户主关系", "家庭成员联系电话", "户类型", "监测对象类别",
        "识别监测时间", *(f"致贫/返贫风险{i}" for i in range(1, 6)), "整户无劳动能力兜底保障户", "风险是否已消除", "风险消除方式",
        "消除监测时间", "健康状况", "劳动技能", "务工所在地", "工资性收入", "生产经营性收入", "财产性收入", "转移性收入",
        "人均纯收入（元）", "合规自付支出", "是否义务教育阶段适龄儿童少年失学辍学", "是否危房户", "是否解决安全饮用水",
        "是否有家庭成员未参加城乡居民（职工）基本医疗保险", *ASSISTANCE]
IGNORED = ["序号", "性别", "出生日期", "民族", "文化程度", "在校生状况", "公益性岗位", "公益性岗位(月数)",
           "是否参加城乡居民基本医疗保险", "是否参加大病保险", "是否接受医疗救助", "享受低保政策情况", "享受特困供养政策情况",
           "实施开发式帮扶措施情况", "信息采集人", "信息采集人联系电话", "风险消除后工资性收入", "风险消除后生产经营性收入",
           "风险消除后财产性收入", "风险消除后转移性收入", "风险消除后家庭人均纯收入", "风险消除后合规自付支出",
           "耕地面积（亩）", "有效灌溉面积（亩）", "林地面积（亩）", "退耕还林面积（亩）", "牧草地面积（亩）", "是否通生活用电",
           "是否通广播电视", "是否加入农民专业合作社", "与村主干路距离（公里）", "入户路类型", "住房面积（平方米）",
           "是否有卫生厕所", "燃料类型"]
COLUMNS = IGNORED[:1] + READ + IGNORED[1:]
COLUMNS += [f"其他指标{i}" for i in range(177 - len(COLUMNS))]  # the export's remaining columns
RELATIONS = ["户主", "配偶", "之子", "之女", "之儿媳", "之孙子"]
SKILLS = ["普通劳动力", "普通劳动力", "技能劳动力", "弱劳动力或半劳动力", "丧失劳动力", "无劳动力"]


def resident_id(n: int) -> str:
    """A valid resident ID, a different one for every n below 270,000."""
    born = date(1950, 1, 1) + timedelta(days=(n // 1000) * 97)
    body = f"532325{born:%Y%m%d}{n % 1000:03d}"
    return body + ID_CHECK[sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


def villages(dsn: str) -> list[tuple[str, str, str]]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute(
            """SELECT c.name, t.name, v.name FROM common.regions v JOIN common.regions t ON t.code = v.parent_code
               JOIN common.regions c ON c.code = t.parent_code WHERE v.code LIKE '532325%' AND v.level = 'village'
               ORDER BY v.code""").fetchall()


def write_export(path: Path, persons: int, places: list[tuple[str, str, str]]) -> tuple[int, int]:
    """The export in its real shape; returns (households, rows made wrong)."""
    from openpyxl import Workbook

    rnd = random.Random(7)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("监测对象信息")
    ws.append(["全国防止返贫监测信息系统  2023年度监测对象信息"])
    ws.append(["导出单位:姚安县乡村振兴局", None, None, "导出时间:2024-01-05 09:30"])
    ws.append(COLUMNS)
    index = {c: i for i, c in enumerate(COLUMNS)}
    n = households = wrong = 0
    while n < persons:
        households += 1
        county, township, village = places[households % len(places)]
        monitored = rnd.random() < 0.3
        eliminated = monitored and rnd.random() < 0.4
        house = {"县": county, "乡": township, "村": village, "户编号": f"5323251{households:011d}",
                 "家庭成员联系电话": f"138{households:08d}", "户类型": rnd.choice(["脱贫户", "一般农户"]),
                 "监测对象类别": rnd.choice(["脱贫不稳定户", "边缘易致贫户", "突发严重困难户"]) if monitored else None,
                 "识别监测时间": f"202{rnd.randint(1, 3)}{rnd.randint(1, 12):02d}" if monitored else None,
                 "致贫/返贫风险1": rnd.choice(["因病", "因残", "因学", "缺劳动力"]) if monitored else None,
                 "致贫/返贫风险2": "因务工就业不稳" if monitored and rnd.random() < 0.3 else None,
                 "整户无劳动能力兜底保障户": "否", "风险是否已消除": ("是" if eliminated else "否") if monitored else None,
                 "风险消除方式": "帮扶消除" if eliminated else None, "消除监测时间": "202312" if eliminated else None,
                 "工资性收入": rnd.randint(0, 40000), "生产经营性收入": rnd.randint(-2000, 20000),
                 "财产性收入": rnd.randint(0, 2000), "转移性收入": rnd.randint(0, 8000),
                 "人均纯收入（元）": rnd.randint(4000, 30000), "合规自付支出": rnd.randint(0, 20000),
                 "是否义务教育阶段适龄儿童少年失学辍学": "否", "是否危房户": "否", "是否解决安全饮用水": "是",
                 "是否有家庭成员未参加城乡居民（职工）基本医疗保险": "否", "产业帮扶": "其他,技能培训" if monitored else None,
                 "就业帮扶": "务工补助" if monitored else None, "耕地面积（亩）": round(rnd.uniform(0, 10), 1),
                 "是否通生活用电": "是", "是否通广播电视": "是", "入户路类型": "水泥路", "燃料类型": "柴草"}
        for m in range(min(rnd.randint(1, 6), persons - n)):
            n += 1
            row = [None] * len(COLUMNS)
            for k, v in house.items():
                row[index[k]] = v
            person = {"序号": n, "姓名": f"成员{n}", "证件号码": resident_id(n), "证件类型": "居民身份证",
                      "与户主关系": RELATIONS[m], "性别": rnd.choice(["男", "女"]), "出生日期": "19800101", "民族": "彝族",
                      "文化程度": "初中", "健康状况": rnd.choice(["健康", "健康", "长期慢性病"]),
                      "劳动技能": rnd.choice(SKILLS), "务工所在地": "昆明市" if rnd.random() < 0.4 else None,
                      "信息采集人": "李四", "信息采集人联系电话": "13900000000"}
            for k, v in person.items():
                row[index[k]] = v
            for i in range(len(COLUMNS) - 40, len(COLUMNS)):
                row[i] = "否"
            if rnd.random() < 0.005:
                wrong += 1
                valid = resident_id(n)
                key, value = rnd.choice([("证件号码", valid[:17] + ("1" if valid[17] != "1" else "2")),
                                         ("劳动技能", "壮劳力"), ("工资性收入", -100), ("识别监测时间", "2022-13")])
                row[index[key]] = value
            ws.append(row)
    wb.save(path)
    return households, wrong


def raw_read(path: Path) -> tuple[int, float]:
    from openpyxl import load_workbook

    start = time.perf_counter()
    wb = load_workbook(path, read_only=True, data_only=True)
    rows = sum(1 for _ in wb.worksheets[0].iter_rows(values_only=True))
    wb.close()
    return rows, time.perf_counter() - start


def dry_run(path: Path, dsn: str) -> tuple[dict, float, float]:
    """The CLI's dry run in its own process: (its JSON summary, wall seconds, peak RSS in MB)."""
    env = {**os.environ, "DATABASE_URL": dsn}
    start = time.perf_counter()
    proc = subprocess.Popen([str(ROOT / ".venv/bin/xianjie"), "households", "import", str(path), "--dry-run",
                             "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"the dry run failed with exit code {proc.returncode}")
    return json.loads(out.decode().strip().splitlines()[-1]), seconds, usage.ru_maxrss / 1024


@contextlib.contextmanager
def database() -> Iterator[tuple[str, str]]:
    import psycopg
    import yaml
    from psycopg.rows import dict_row

    from services.common.db import migrate
    from services.common.devstack import EmbeddedPostgres, create_database, free_port
    from services.demo.loader import REGISTRY_FILE, load_registry

    dsn = os.environ.get("DATABASE_URL")
    with contextlib.ExitStack() as es:
        origin = "PostgreSQL from DATABASE_URL"
        if not dsn:
            base = Path(es.enter_context(tempfile.TemporaryDirectory(prefix="xianjie-bench-")))
            os.chmod(base, 0o755)  # PostgreSQL runs as an unprivileged account when we are root
            pg = EmbeddedPostgres(base / "postgres", free_port(), durable=False)
            es.callback(pg.stop)
            pg.start()
            create_database(pg.dsn_for(), "xianjie_bench")
            dsn, origin = pg.dsn_for("xianjie_bench"), "PostgreSQL started here (embedded)"
        migrate(dsn)
        with psycopg.connect(dsn, row_factory=dict_row) as conn:
            load_registry(conn, yaml.safe_load(REGISTRY_FILE.read_text(encoding="utf-8")))
        yield dsn, origin


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--keep", type=Path, help="write the export here and keep it")
    args = ap.parse_args()
    with database() as (dsn, origin), tempfile.TemporaryDirectory(prefix="xianjie-national-") as tmp:
        path = args.keep or Path(tmp) / "监测对象信息.xlsx"
        start = time.perf_counter()
        households, wrong = write_export(path, args.persons, villages(dsn))
        size_mb = path.stat().st_size / 2**20
        print(f"national_import bench: {args.persons} persons in {households} households, {len(COLUMNS)} columns, "
              f"{wrong} rows made wrong; {size_mb:.1f} MB written in {time.perf_counter() - start:.1f} s; {origin}",
              flush=True)
        rows, raw_s = raw_read(path)
        raw_rate = args.persons / raw_s
        print(f"raw openpyxl read-only iteration: {rows} rows in {raw_s:.1f} s = {raw_rate:,.0f} rows/s", flush=True)
        summary, dry_s, rss = dry_run(path, dsn)
        rate = args.persons / dry_s
        print(f"importer --dry-run: {summary['rows']} rows, {summary['households']} households, {summary['persons']} "
              f"persons, {summary['rows_with_errors']} rows with errors, {len(summary['ignored_columns'])} columns "
              f"ignored, in {dry_s:.1f} s = {rate:,.0f} rows/s; peak RSS {rss:.0f} MB", flush=True)
        ratio = rate / raw_rate
        print(f"ratio importer/raw = {ratio:.2f} (goal >= 1.0); peak RSS goal <= 500 MB", flush=True)
        print(json.dumps({
            "bench": "national_import", "persons": args.persons, "households": households, "columns": len(COLUMNS),
            "file_mb": round(size_mb, 1), "raw_per_s": round(raw_rate), "importer_per_s": round(rate),
            "ratio": round(ratio, 2), "peak_rss_mb": round(rss), "rows_with_errors": summary["rows_with_errors"],
            "households_valid": summary["households"], "raw_s": round(raw_s, 1), "importer_s": round(dry_s, 1),
        }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
