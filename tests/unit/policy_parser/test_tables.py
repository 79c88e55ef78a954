"""Task-division tables (任务分工表 / 任务清单): .docx, .xlsx and text give the same measures."""

from __future__ import annotations

import io
import json

import pytest
from docx import Document as DocxDocument
from openpyxl import Workbook
from test_policy_parser_seeds import SCHEMA, _errors
from test_tables_fixtures import (
    KNOWN_UNITS,
    LIST_HEADER,
    LIST_ROWS,
    LIST_TITLE,
    TASK_HEADER,
    TASK_ROWS,
    TASK_TITLE,
    to_docx,
    to_html,
    to_lines,
    to_pipes,
    to_xlsx,
)
from typer.testing import CliRunner

from services.tasks.policy_parser import ParseError, document_to_dict, parse_bytes, parse_path, parse_text, split_unit_list
from services.tasks.policy_parser.tables import column_of, header_columns

TABLES = {"task": (TASK_TITLE, TASK_HEADER, TASK_ROWS), "list": (LIST_TITLE, LIST_HEADER, LIST_ROWS)}


def measures(doc, *, raw: bool = True) -> list[dict]:
    out = document_to_dict(doc)["measures"]
    if not raw:
        for m in out:
            m.pop("raw_annotation")
    return out


def formats(title, header, rows):
    """Every way the tests write one table, parsed with the region's known units."""
    return {
        "docx": parse_bytes(to_docx(title, header, rows), "分工表.docx", KNOWN_UNITS),
        "docx_line_breaks": parse_bytes(to_docx(title, header, rows, paragraphs_in_cells=False), "a.docx", KNOWN_UNITS),
        "xlsx": parse_bytes(to_xlsx(title, header, rows), "分工表.xlsx", KNOWN_UNITS),
        "lines": parse_text(to_lines(title, header, rows), KNOWN_UNITS),
        "lines_unglued": parse_text(to_lines(title, header, rows, glue_units=False), KNOWN_UNITS),
        "pipes": parse_text(to_pipes(title, header, rows), KNOWN_UNITS),
        "html": parse_bytes(to_html(title, header, rows), "page.html", KNOWN_UNITS),
    }


def summary(doc) -> list[tuple]:
    return [(m.ref, m.title, m.lead_units, m.responsible_units, m.lead_inferred, m.assessing_units) for m in doc.measures]


# ---------------------------------------------------------------- the same measures from every format

@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_format_gives_the_same_measures(name):
    docs = formats(*TABLES[name])
    expected = measures(docs["docx"])
    assert len(expected) == 4
    for fmt, doc in docs.items():
        # glued names (a unit cell's line breaks lost in the paste) are split by the known units,
        # so only the annotation as written differs there
        assert measures(doc, raw=fmt != "lines") == measures(docs["docx"], raw=fmt != "lines"), fmt
        assert doc.title == TABLES[name][0], fmt


def test_same_measures_without_known_units_where_nothing_is_glued():
    for title, header, rows in TABLES.values():
        expected = measures(parse_bytes(to_docx(title, header, rows), "a.docx"))
        assert measures(parse_bytes(to_xlsx(title, header, rows), "a.xlsx")) == expected
        assert measures(parse_text(to_pipes(title, header, rows))) == expected
        assert measures(parse_bytes(to_html(title, header, rows), "a.html")) == expected
        assert measures(parse_text(to_lines(title, header, rows, glue_units=False))) == expected


def test_task_division_table():
    doc = parse_bytes(to_docx(*TABLES["task"]), "a.docx")
    assert summary(doc) == [
        ("一.1", "发展特色产业", ["县农业农村局"], ["县乡村振兴局", "县财政局"], False, []),
        # 加*号为牵头部门 in the header: the starred unit leads, its star removed
        ("一.2", "稳定务工就业", ["县人力资源和社会保障局"], ["县人力资源和社会保障局", "县农业农村局", "各乡镇人民政府"], False, []),
        ("二.3", "落实社会救助", ["县民政局"], ["县医保局", "县残联"], False, []),
        ("二.4", "巩固住房安全", ["县住房和城乡建设局"], ["各乡镇人民政府"], False, []),
    ]
    first = doc.measures[0]
    assert first.text == "每个乡镇培育1个以上主导产业。\n新增产业基地5个以上。"
    assert [(t.indicator, t.comparator, t.value, t.unit, t.year) for t in first.targets] == [
        ("每个乡镇培育主导产业", ">=", 1, "个", 2023), ("新增产业基地", ">=", 5, "个", 2023)]
    assert first.raw_annotation == "牵头单位:县农业农村局;责任单位:县乡村振兴局、县财政局;完成时限:10月底"
    deadlines = [[(d.phrase, d.date, d.year_inferred) for d in m.deadlines] for m in doc.measures]
    assert deadlines == [
        [("10月底", "2023-10-31", True)], [("12月底", "2023-12-31", True)],
        [("2023年6月30日前", "2023-06-30", False)], [("长期坚持", None, False)],
    ]
    assert doc.measures[3].deadlines[0].recurring is None and doc.measures[3].deadlines[0].month_day is None
    assert [(s.ref, s.number, s.heading) for s in doc.sections] == [("一", "一、", "产业就业"), ("二", "二、", "兜底保障")]


def test_task_list_with_targets_and_assessing_units():
    doc = parse_bytes(to_xlsx(*TABLES["list"]), "清单.xlsx")
    assert summary(doc) == [
        ("1", "脱贫人口人均纯收入增幅", ["县乡村振兴局"], ["县乡村振兴局", "县人力资源和社会保障局"], True, ["县统计局"]),
        ("2", "新增高标准农田", ["县农业农村局"], ["县农业农村局", "县自然资源局"], True, ["县统计局"]),
        ("3", "农村低保覆盖率", ["县民政局"], ["县民政局"], True, ["县统计局", "县财政局"]),
        ("4", "巩固脱贫成果考核等次", ["县乡村振兴局"], ["县乡村振兴局"], True, ["县委督查室"]),
    ]
    targets = [[(t.indicator, t.year, t.comparator, t.value, t.unit, t.text, t.needs_value) for t in m.targets] for m in doc.measures]
    assert targets == [
        [("脱贫人口人均纯收入增幅", 2023, ">=", 2, "%", "≥2%", False)],
        [("新增高标准农田", 2023, "=", 0.07, "万亩", "0.07", False)],
        [("农村低保覆盖率", 2023, "=", 95, "%", "95%", False)],  # 0.95 formatted as a percentage
        [("巩固脱贫成果考核等次", 2023, "qualitative", None, None, "良好以上", False)],
    ]
    assert doc.measures[1].text == "考核指标:新增高标准农田;单位:万亩;年度目标:0.07"


@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_output_follows_the_schema(name):
    for doc in formats(*TABLES[name]).values():
        assert _errors(document_to_dict(doc), SCHEMA) == []


def test_glued_names_split_only_with_known_units():
    text = to_lines(*TABLES["task"])
    assert parse_text(text).measures[0].responsible_units == ["县乡村振兴局县财政局"]
    assert parse_text(text, KNOWN_UNITS).measures[0].responsible_units == ["县乡村振兴局", "县财政局"]
    assert split_unit_list("县乡村振兴局县财政局") == (["县乡村振兴局县财政局"], False)
    assert split_unit_list("县乡村振兴局县财政局、县残联", KNOWN_UNITS) == (["县乡村振兴局", "县财政局", "县残联"], False)
    # only when every piece is known; a known name is never cut
    assert split_unit_list("县乡村振兴局县某某局", KNOWN_UNITS) == (["县乡村振兴局县某某局"], False)
    assert split_unit_list("县财政局", KNOWN_UNITS | {"县财", "政局"}) == (["县财政局"], False)


# ---------------------------------------------------------------- header names and notes

@pytest.mark.parametrize(
    "header,kind",
    [
        ("牵头单位", "lead"), ("牵头部门", "lead"), ("主责单位", "lead"),
        ("责任单位", "responsible"), ("责任部门", "responsible"), ("配合单位", "responsible"), ("参与单位", "responsible"),
        ("协同单位", "responsible"), ("责任乡镇", "responsible"), ("责任街镇", "responsible"), ("责 任 单 位", "responsible"),
        ("评分部门", "assessing"), ("考核部门", "assessing"),
        ("完成时限", "deadline"), ("完成时间节点", "deadline"), ("时间节点", "deadline"),
        ("年度目标", "target"), ("目标值", "target"), ("2023年目标", "target"), ("考核指标", "indicator"), ("单位", "unit"),
        ("序号", "ref"), ("类别", "category"), ("一级指标", "category"),
        ("任务名称", "title"), ("重点任务", "title"), ("任务要求及举措", "text"), ("具体措施", "text"),
        ("牵头领导", "other"), ("责任人", "other"), ("备注", "other"),
    ],
)
def test_header_variants(header, kind):
    assert column_of(header).kind == kind


def test_header_notes_define_lead_markers():
    assert column_of("责任单位（加*号为牵头部门，其余为参与部门）").marker == "*"
    assert column_of("责任单位(★为牵头单位)").marker == "★"
    assert column_of("责任单位(标注（牵头）的为牵头单位)").marker == "(牵头)"
    assert column_of("2024年目标值").year == 2024
    assert column_of("牵头单位:州扶贫办") is None  # an annotation line, not a header
    assert header_columns(["附件", "任务清单"]) is None


def _docx_table(header, rows, before=("某县重点任务分工表",), after=()) -> bytes:
    doc = DocxDocument()
    for line in before:
        doc.add_paragraph(line)
    table = doc.add_table(rows=len(rows) + 1, cols=len(header))
    for c, name in enumerate(header):
        table.cell(0, c).text = name
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    for line in after:
        doc.add_paragraph(line)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def test_marker_variants_and_inferred_lead():
    star = _docx_table(["序号", "重点任务", "责任单位(★为牵头单位)"], [["1", "抓好就业", "县财政局、县人社局★"]])
    assert summary(parse_bytes(star, "a.docx"))[0][2:5] == (["县人社局"], ["县财政局", "县人社局"], False)
    paren = _docx_table(["序号", "重点任务", "责任单位"], [["1", "抓好就业", "县人社局（牵头）、县财政局"]])
    assert summary(parse_bytes(paren, "a.docx"))[0][2:5] == (["县人社局"], ["县人社局", "县财政局"], False)
    plain = _docx_table(["序号", "重点任务", "责任单位", "配合单位"], [["1", "抓好就业", "县人社局", "县财政局、县民政局"]])
    assert summary(parse_bytes(plain, "a.docx"))[0][2:5] == (["县人社局"], ["县人社局", "县财政局", "县民政局"], True)
    noted = _docx_table(["序号", "重点任务", "责任单位"], [["1", "抓好就业", "县财政局、*县人社局"]], after=["注:加*的为牵头单位。"])
    assert summary(parse_bytes(noted, "a.docx"))[0][2:5] == (["县人社局"], ["县财政局", "县人社局"], False)


def test_multi_row_header_and_heading_rows_in_docx():
    doc = DocxDocument()
    doc.add_paragraph("某县2024年工作要点任务分解表")
    table = doc.add_table(rows=6, cols=4)
    top = ["序号", "工作任务", "责任单位", "责任单位"]
    second = ["序号", "工作任务", "牵头单位", "配合单位"]
    for c in range(4):
        table.cell(0, c).text = top[c]
    table.cell(0, 0).merge(table.cell(1, 0))
    table.cell(0, 1).merge(table.cell(1, 1))
    table.cell(0, 2).merge(table.cell(0, 3)).text = "责任单位"
    table.cell(1, 2).text, table.cell(1, 3).text = second[2], second[3]
    table.cell(2, 0).merge(table.cell(2, 3)).text = "一、产业发展"
    for r, row in ((3, ["1", "壮大村集体经济", "县农业农村局", "各乡镇"]), (5, ["1", "稳岗就业", "县人社局", "县财政局"])):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(4, 0).merge(table.cell(4, 3)).text = "二、就业帮扶"
    buf = io.BytesIO()
    doc.save(buf)
    parsed = parse_bytes(buf.getvalue(), "a.docx")
    assert summary(parsed) == [
        ("一.1", "壮大村集体经济", ["县农业农村局"], ["各乡镇"], False, []),
        ("二.1", "稳岗就业", ["县人社局"], ["县财政局"], False, []),
    ]
    assert [s.heading for s in parsed.sections] == ["产业发展", "就业帮扶"]


def test_docx_without_a_task_table_is_read_as_paragraphs():
    text = ["某县实施方案", "一、重点任务", "(一)加强监测。按月开展监测。(牵头单位:县乡村振兴局;责任单位:县民政局)"]
    doc = parse_bytes(_docx_table(["附件", "说明", "备注"], [["1", "2", "3"]], before=text), "a.docx")
    assert summary(doc) == [("一.(一)", "加强监测", ["县乡村振兴局"], ["县民政局"], False, [])]
    assert doc.measures[0].assessing_units == []


def test_paragraph_text_with_own_line_annotations_is_not_a_table():
    text = "二、工作措施\n(一)完善监测机制。完善系统。\n牵头单位:州扶贫办\n责任单位:各县市\n完成时限:6月底\n"
    assert summary(parse_text(text)) == [("二.(一)", "完善监测机制", ["州扶贫办"], ["各县市"], False, [])]


# ---------------------------------------------------------------- Excel specifics

def test_xlsx_title_rows_merged_categories_dates_and_notes():
    wb = Workbook()
    ws = wb.active
    ws.append(["附件2"])
    ws.append(["某县2023年巩固拓展脱贫攻坚成果任务清单"])
    ws.append([])
    ws.append(["重点领域", "序号", "主要任务", "牵头部门", "参与部门", "时间节点"])
    ws.append(["产业帮扶", 1, "发展庭院经济", "县农业农村局", "县林草局\n县商务局", "2023-06-30"])
    ws.append([None, 2, "培育龙头企业", "县工信局", "县财政局", None])
    ws.append(["就业帮扶", 1, "开发公益岗位", "县人社局", "各乡镇", None])
    ws.merge_cells("A5:A6")
    ws.merge_cells("F6:F7")
    ws["F6"] = "12月"
    from datetime import datetime

    ws["F5"] = datetime(2023, 6, 30)
    ws.append(["注:时间节点为最迟完成时间。"])
    buf = io.BytesIO()
    wb.save(buf)
    doc = parse_bytes(buf.getvalue(), "清单.xlsx")
    assert doc.title == "某县2023年巩固拓展脱贫攻坚成果任务清单"
    assert summary(doc) == [
        ("一.1", "发展庭院经济", ["县农业农村局"], ["县林草局", "县商务局"], False, []),
        ("一.2", "培育龙头企业", ["县工信局"], ["县财政局"], False, []),
        ("二.1", "开发公益岗位", ["县人社局"], ["各乡镇"], False, []),
    ]
    assert [[(d.phrase, d.date) for d in m.deadlines] for m in doc.measures] == [
        [("2023年6月30日", "2023-06-30")], [("12月底", "2023-12-31")], [("12月底", "2023-12-31")]]
    assert [(s.ref, s.number, s.heading) for s in doc.sections] == [("一", "", "产业帮扶"), ("二", "", "就业帮扶")]


def test_xlsx_without_a_task_header_and_broken_files():
    wb = Workbook()
    wb.active.append(["姓名", "年龄"])
    buf = io.BytesIO()
    wb.save(buf)
    for data, name in ((buf.getvalue(), "a.xlsx"), (b"PK\x03\x04broken", "a.xlsx"), (b"not a workbook", "a.xlsx")):
        with pytest.raises(ParseError) as err:
            parse_bytes(data, name)
        assert err.value.reason and "\n" not in err.value.reason
    with pytest.raises(ParseError):
        parse_bytes(b"\xd0\xcf\x11\xe0", "old.xls")


def test_xlsx_recognised_without_its_extension():
    data = to_xlsx(*TABLES["list"])
    assert summary(parse_bytes(data, "upload")) == summary(parse_bytes(data, "清单.xlsx"))


# ---------------------------------------------------------------- pasted text

def test_rows_as_pipe_lines_and_trailing_notes():
    text = (
        "某县2023年重点任务分工表\n"
        "序号 | 任务名称 | 牵头单位 | 责任单位 | 完成时限\n"
        "1 | 加强动态监测 | 县乡村振兴局 | 县民政局、县财政局 | 10月底\n"
        "2 | 落实兜底保障 | 县民政局 | 县医保局 | 长期坚持\n"
        "注:各单位按季度报送进展。\n"
        "某县人民政府\n2023年3月1日\n"
    )
    doc = parse_text(text)
    assert summary(doc) == [
        ("1", "加强动态监测", ["县乡村振兴局"], ["县民政局", "县财政局"], False, []),
        ("2", "落实兜底保障", ["县民政局"], ["县医保局"], False, []),
    ]
    assert (doc.title, doc.issuer, doc.date) == ("某县2023年重点任务分工表", "某县人民政府", "2023-03-01")


def test_one_cell_per_line_with_empty_cells_and_double_spacing():
    header = ["序号", "任务名称", "牵头单位", "责任单位", "完成时限"]
    rows = [["1", "加强动态监测", "", "县民政局、县财政局", "10月底"], ["2", "落实兜底保障", "县民政局", "县医保局", "12月底"]]
    cells = [c for row in rows for c in row]
    single = "任务清单\n" + "\n".join(header + cells)
    double = "任务清单\n\n" + "\n\n".join(header + [c for c in cells if c])
    expected = [("1", "加强动态监测", ["县民政局"], ["县民政局", "县财政局"], True, []),
                ("2", "落实兜底保障", ["县民政局"], ["县医保局"], False, [])]
    assert summary(parse_text(single)) == expected
    # blank lines between all lines are spacing: the missing lead cell is then read as merged from nothing above
    assert summary(parse_text(double)) == expected


def test_cli_parses_tables_to_the_same_json(tmp_path):
    from services.cli import app

    outputs = []
    for name, data in (
        ("分工表.xlsx", to_xlsx(*TABLES["task"])),
        ("分工表.docx", to_docx(*TABLES["task"])),
        ("分工表.txt", to_pipes(*TABLES["task"]).encode("gb18030")),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        result = CliRunner().invoke(app, ["policy", "parse", str(path), "--format", "json"])
        assert result.exit_code == 0, result.output
        outputs.append(json.loads(result.stdout)["measures"])
        assert parse_path(path).measures
    assert outputs[0] == outputs[1] == outputs[2]


def test_upload_accepts_xlsx():
    from services.tasks.policies import ACCEPTED_TYPES, check_upload

    assert ".xlsx" in ACCEPTED_TYPES
    check_upload("清单.xlsx", 100)


def test_seed_documents_do_not_look_like_tables():
    from policy_parser_seedfiles import SEED_COUNTS, seed_path

    from services.tasks.policy_parser.reader import read_path
    from services.tasks.policy_parser.tables_text import read_text_table

    for number in SEED_COUNTS:
        assert read_text_table(read_path(seed_path(number))) is None


def test_dates_one_cell_per_line_are_deadline_cells_not_a_signature():
    text = "任务清单\n序号\n任务名称\n责任单位\n完成时限\n1\n加强监测\n县民政局\n2023年9月30日\n2\n兜底保障\n县医保局\n2023年12月31日\n"
    doc = parse_text(text)
    assert [(m.ref, m.responsible_units, [d.date for d in m.deadlines]) for m in doc.measures] == [
        ("1", ["县民政局"], ["2023-09-30"]), ("2", ["县医保局"], ["2023-12-31"])]
    assert doc.issuer is None and doc.date is None


def test_several_tables_under_their_own_headings():
    header = ["序号", "任务名称", "牵头单位", "责任单位"]
    doc = DocxDocument()
    doc.add_paragraph("某县重点任务分工表")
    for heading, rows in (("一、产业发展", [["1", "发展庭院经济", "县农业农村局", "各乡镇"]]),
                          ("二、就业帮扶", [["1", "开发公益岗位", "县人社局", "县财政局"]])):
        doc.add_paragraph(heading)
        table = doc.add_table(rows=2, cols=4)
        for c in range(4):
            table.cell(0, c).text, table.cell(1, c).text = header[c], rows[0][c]
    buf = io.BytesIO()
    doc.save(buf)
    expected = [("一.1", "发展庭院经济", ["县农业农村局"], ["各乡镇"], False, []),
                ("二.1", "开发公益岗位", ["县人社局"], ["县财政局"], False, [])]
    assert summary(parse_bytes(buf.getvalue(), "a.docx")) == expected
    text = ("某县重点任务分工表\n一、产业发展\n" + "\n".join(header) + "\n1\n发展庭院经济\n县农业农村局\n各乡镇\n"
            "二、就业帮扶\n" + "\n".join(header) + "\n1\n开发公益岗位\n县人社局\n县财政局\n")
    assert summary(parse_text(text)) == expected


def test_web_page_table_with_paragraphs_in_cells_and_rowspan():
    page = (
        "<html><body><p>某县2023年重点任务分工表</p><table>"
        "<tr><td><p>序号</p></td><td><p>重点任务</p></td><td><p>具体措施</p></td><td><p>牵头单位</p></td>"
        "<td><p>配合单位</p></td><td><p>完成时限</p></td></tr>"
        "<tr><td>1</td><td><p>加强监测</p></td><td><p>按月开展动态监测。</p><p>及时纳入帮扶。</p></td>"
        "<td rowspan='2'><p>县乡村振兴局</p></td><td><p>县民政局</p><p>县财政局</p></td><td>10月底</td></tr>"
        "<tr><td>2</td><td><p>产业帮扶</p></td><td><p>发展特色产业。</p></td><td><p>县农业农村局</p></td><td>12月底</td></tr>"
        "<tr><td>3</td><td><p>就业帮扶</p></td><td><p>开发公益岗位。</p></td><td>县人社局</td><td></td><td>长期坚持</td></tr>"
        "</table><p>扫一扫在手机打开</p></body></html>"
    )
    doc = parse_bytes(page.encode(), "page.html")
    assert summary(doc) == [
        ("1", "加强监测", ["县乡村振兴局"], ["县民政局", "县财政局"], False, []),
        ("2", "产业帮扶", ["县乡村振兴局"], ["县农业农村局"], False, []),  # the lead cell spans two rows
        ("3", "就业帮扶", ["县人社局"], [], False, []),
    ]
    assert doc.measures[0].text == "按月开展动态监测。\n及时纳入帮扶。"
