"""Seed corpora of the fuzz targets: the five seed policy documents (services/demo/seeds, copies
of shared/seeds) as text in UTF-8 and GBK, Word, a web page and task tables; household files in
our template (xlsx, CSV in UTF-8 and GBK) with good and bad rows; national exports (监测对象信息
and 行政村信息, xlsx and CSV). Each seed is the target's selector byte followed by the file."""

from __future__ import annotations

import csv
import hashlib
import io
import sys
from pathlib import Path

from docx import Document as DocxDocument
from openpyxl import Workbook
from targets import CELLS_AS_WORKBOOK, CREATE_REGIONS, VILLAGES, WITH_KNOWN_UNITS

from services.alerts.import_columns import TEMPLATE_COLUMNS
from services.alerts.template import template_xlsx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the national export builder
from national_exports import HEADERS, TITLES, export, family, person

SEEDS = Path(__file__).resolve().parents[2] / "services" / "demo" / "seeds"
TXT, DOCX, XLSX, HTML, BARE = 0, 1, 2, 3, 4  # policy selectors (targets.POLICY_NAMES)
TASK_TABLE = [["序号", "任务名称", "任务要求及举措", "牵头单位", "责任单位", "完成时限"],
              ["1", "稳定务工就业", "开展职业技能培训。", "县人社局", "县农业农村局、各乡镇人民政府", "12月底"],
              ["2", "落实社会救助", "将符合条件的脱贫人口纳入低保。", "", "*县民政局\n县医保局", "2023年6月30日前"]]
GOOD_ROW = {
    "户编号": "5323251002010001", "县": "姚安县", "乡(镇)": "栋川镇", "村": "栋川东村", "村代码": "532325100201",
    "户主姓名": "张三", "户主证件号码": "11010519491231002X", "联系电话": "13812345678", "户类型": "脱贫户",
    "家庭人口数": 4, "劳动力人数": 2, "整户无劳动能力": "否", "期间": "2023", "人均纯收入（元）": 7900,
    "工资性收入": 20000, "生产经营性收入": -500, "财产性收入": 0, "转移性收入": 3600, "合规自付医疗支出": 1200.5,
    "义务教育有保障": "是", "基本医疗有保障": "是", "住房安全有保障": "是", "饮水安全有保障": "否",
}


def policy_seeds() -> list[bytes]:
    out = []
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        excerpt = text[:1500]
        out += [bytes([TXT]) + text.encode(), bytes([TXT | WITH_KNOWN_UNITS]) + excerpt.encode(),
                bytes([BARE]) + excerpt.encode("gb18030"), bytes([DOCX]) + _docx(excerpt.splitlines()),
                bytes([HTML]) + f"<html><head><meta charset='utf-8'></head><body><p>{excerpt}</p></body></html>"
                .replace("\n", "</p><p>").encode()]
    out += [bytes([DOCX | WITH_KNOWN_UNITS]) + _docx(["某县重点任务分工表"], TASK_TABLE), bytes([XLSX]) + _xlsx(TASK_TABLE),
            bytes([TXT]) + "\n".join("|".join(r) for r in TASK_TABLE).encode()]
    return out


def household_seeds() -> list[bytes]:
    headers = [c.header for c in TEMPLATE_COLUMNS]
    rows = [GOOD_ROW,
            {**GOOD_ROW, "户编号": "5323251002010002", "户主证件号码": "110105194912310021", "工资性收入": "两万"},
            {**GOOD_ROW, "户编号": "5323251002010003", "村": "新村", "村代码": "", "期间": "2023-13"},
            {**GOOD_ROW, "户编号": "5323251002010004", "村代码": "532399100201", "家庭人口数": "四"}]
    table = [["2023年度姚安县农户收支情况统计表"], headers, *([r.get(h, "") for h in headers] for r in rows), ["合计"]]
    text = _csv(table)
    xlsx, csv_, bare = 0, 1, 2  # targets.IMPORT_NAMES
    return [bytes([xlsx]) + template_xlsx(VILLAGES), bytes([xlsx]) + _xlsx(table), bytes([csv_]) + text.encode("utf-8-sig"),
            bytes([bare]) + text.encode("gbk"), bytes([csv_ | CELLS_AS_WORKBOOK]) + text.encode(),
            bytes([xlsx]) + _persons_export()]


def national_seeds() -> list[bytes]:
    xlsx, csv_ = 0, 1  # targets.NATIONAL_NAMES
    persons = [*family(1), *family(2, 2), person(3, 1, 证件号码="123"), person(4, 1, "配偶"),
               person(5, 1, 村="新建村")]
    text = _csv([TITLES[0], HEADERS, *([p.get(h, "") for h in HEADERS] for p in persons)])
    villages = [["行政村信息"], [], ["序号", "县", "乡", "村", "总户数", "总人口数", "低保户数"],
                [1, "姚安县", "栋川镇", "栋川东村", 420, 1530, 12], [2, "姚安县", "栋川镇", "无此村", 10, "多", 0]]
    return [bytes([xlsx]) + _persons_export(persons), bytes([xlsx | CREATE_REGIONS]) + _persons_export(persons),
            bytes([csv_]) + text.encode("gbk"), bytes([csv_ | CELLS_AS_WORKBOOK]) + text.encode(),
            bytes([xlsx]) + _xlsx(villages), bytes([csv_]) + _csv(villages).encode()]


SEED_SETS = {"policy": policy_seeds, "household_import": household_seeds, "national_export": national_seeds,
             "canary": lambda: [b"x"]}


def write(target: str, directory: Path) -> int:
    """Writes the target's seeds into `directory` (named by content, so writing twice adds nothing)."""
    directory.mkdir(parents=True, exist_ok=True)
    seeds = SEED_SETS[target]()
    for seed in seeds:
        (directory / f"seed-{hashlib.sha1(seed).hexdigest()[:16]}").write_bytes(seed)
    return len(seeds)


def _persons_export(persons: list[dict] | None = None) -> bytes:
    return export(persons or [*family(1), *family(2, 2)])


def _docx(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    doc = DocxDocument()
    for p in paragraphs:
        doc.add_paragraph(p.replace("\u3000", " "))
    if table:
        t = doc.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                t.cell(r, c).text = value
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _xlsx(rows: list[list]) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _csv(rows: list[list]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows([["" if v is None else v for v in row] for row in rows])
    return out.getvalue()
