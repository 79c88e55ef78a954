"""Builders (no tests here): task-division tables written by the tests as .docx, .xlsx, text one cell per line,
text with ``|`` lines between cells, and an HTML page.

A table is a title, a header and rows; a cell ``SAME`` continues the cell above
(a vertical merge: merged in Word and Excel, absent from the flattened text as
on a web page with rowspan). Multi-line cells hold ``\\n``.
"""

from __future__ import annotations

import html
import io
import re

from docx import Document as DocxDocument
from openpyxl import Workbook

SAME = object()
UNIT_HEADERS = re.compile(r"牵头|责任|配合|参与|协同|评分|考核部门")

TASK_TITLE = "某县2023年巩固拓展脱贫攻坚成果重点任务分工表"
TASK_HEADER = ["类别", "序号", "任务名称", "任务要求及举措", "牵头单位", "责任单位（加*号为牵头部门，其余为参与部门）", "完成时限"]
TASK_ROWS = [
    ["一、产业就业", "1", "发展特色产业", "每个乡镇培育1个以上主导产业。\n新增产业基地5个以上。",
     "县农业农村局", "县乡村振兴局\n县财政局", "10月底"],
    [SAME, "2", "稳定务工就业", "开展职业技能培训，稳定外出务工规模。",
     "", "*县人力资源和社会保障局、县农业农村局\n各乡镇人民政府", "12月底"],
    ["二、兜底保障", "3", "落实社会救助", "将符合条件的脱贫人口纳入低保、特困供养范围。",
     "县民政局", "县医保局、县残联", "2023年6月30日前"],
    [SAME, "4", "巩固住房安全", "开展农村危房动态监测，发现一户改造一户。",
     "县住房和城乡建设局", "各乡镇人民政府", "长期坚持"],
]

LIST_TITLE = "某县2023年巩固拓展脱贫攻坚成果考核任务清单"
LIST_HEADER = ["序号", "考核指标", "单位", "年度目标", "责任部门", "评分部门"]
LIST_ROWS = [
    ["1", "脱贫人口人均纯收入增幅", "%", "≥2%", "县乡村振兴局、县人力资源和社会保障局", "县统计局"],
    ["2", "新增高标准农田", "万亩", "0.07", "县农业农村局\n县自然资源局", "县统计局"],
    ["3", "农村低保覆盖率", "%", "95%", "县民政局", "县统计局、县财政局"],
    ["4", "巩固脱贫成果考核等次", "", "良好以上", "县乡村振兴局", "县委督查室"],
]

KNOWN_UNITS = {
    "县农业农村局", "县乡村振兴局", "县财政局", "县人力资源和社会保障局", "各乡镇人民政府", "县民政局", "县医保局",
    "县残联", "县住房和城乡建设局", "县统计局", "县自然资源局", "县委督查室",
}


def _runs(rows: list[list], col: int) -> list[tuple[int, int, str]]:
    """(first row, last row, value) of every cell in a column, merges included."""
    runs = []
    for r, row in enumerate(rows):
        if row[col] is SAME:
            first, _, value = runs[-1]
            runs[-1] = (first, r, value)
        else:
            runs.append((r, r, row[col]))
    return runs


def to_docx(title: str, header: list[str], rows: list[list], *, paragraphs_in_cells: bool = True) -> bytes:
    doc = DocxDocument()
    doc.add_paragraph(title)
    table = doc.add_table(rows=len(rows) + 1, cols=len(header))
    for c, name in enumerate(header):
        table.cell(0, c).text = name
    for c in range(len(header)):
        for first, last, value in _runs(rows, c):
            cell = table.cell(first + 1, c)
            if last > first:
                cell = cell.merge(table.cell(last + 1, c))
            lines = value.split("\n")
            if paragraphs_in_cells and not UNIT_HEADERS.search(header[c]):
                cell.text = lines[0]  # one paragraph per line
                for line in lines[1:]:
                    cell.add_paragraph(line)
            else:
                cell.text = value  # line breaks inside one paragraph
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _xlsx_value(text: str):
    if re.fullmatch(r"\d+", text):
        return int(text), None
    if re.fullmatch(r"\d+\.\d+", text):
        return float(text), None
    if re.fullmatch(r"\d+%", text):
        return int(text[:-1]) / 100, "0%"
    return text, None


def to_xlsx(title: str, header: list[str], rows: list[list], *, note: str | None = None) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "任务分工"
    ws.cell(1, 1, title)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    ws.cell(2, 1, "填报单位:某县乡村振兴局")
    for c, name in enumerate(header, start=1):
        ws.cell(3, c, name)
    for c in range(len(header)):
        for first, last, value in _runs(rows, c):
            v, fmt = _xlsx_value(value)
            cell = ws.cell(first + 4, c + 1, v if value else None)
            if fmt:
                cell.number_format = fmt
            if last > first:
                ws.merge_cells(start_row=first + 4, start_column=c + 1, end_row=last + 4, end_column=c + 1)
    if note:
        ws.cell(len(rows) + 4, 1, note)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def to_lines(title: str, header: list[str], rows: list[list], *, glue_units: bool = True) -> str:
    """One cell per line, as pasted from a web page: a merged cell only in its first row, an empty
    cell an empty line, a unit cell's line breaks lost (names glued) when ``glue_units``."""
    lines = [title, *header]
    for row in rows:
        for c, value in enumerate(row):
            if value is SAME:
                continue
            if glue_units and UNIT_HEADERS.search(header[c]):
                value = value.replace("\n", "")
            lines += value.split("\n")
    return "\n".join(lines) + "\n"


def to_pipes(title: str, header: list[str], rows: list[list]) -> str:
    """Every cell on its own line(s), a line holding only ``|`` between cells."""
    cells = list(header) + [v for row in rows for v in row if v is not SAME]
    return title + "\n" + "\n|\n".join(cells) + "\n"


def to_html(title: str, header: list[str], rows: list[list]) -> bytes:
    """A web page: rowspan for merged cells, <br> for line breaks inside cells."""
    spans = {}
    for c in range(len(header)):
        for first, last, _ in _runs(rows, c):
            spans[(first, c)] = last - first + 1
    body = "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
    for r, row in enumerate(rows):
        tds = ""
        for c, value in enumerate(row):
            if value is SAME:
                continue
            span = f' rowspan="{spans[(r, c)]}"' if spans[(r, c)] > 1 else ""
            tds += f"<td{span}>" + "<br>".join(html.escape(x) for x in value.split("\n")) + "</td>"
        body += f"<tr>{tds}</tr>"
    page = (f"<html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<div class='nav'>首页</div><h1>{html.escape(title)}</h1><table>{body}</table>"
            "<div>扫一扫在手机打开当前页</div></body></html>")
    return page.encode("utf-8")
