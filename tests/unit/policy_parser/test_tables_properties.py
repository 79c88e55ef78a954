"""Property tests: any task table the tests can write gives back the units written into it."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_tables_fixtures import to_docx, to_pipes, to_xlsx

from services.tasks.policy_parser import ParseError, parse_bytes, parse_text

# Characters of real department names; none of them forms a word the unit-list rules treat as a
# note (完成, 年底, 下同 …), 等, or 党委 (which joins a following 政府).
ALPHABET = "农业村振兴财政民政人力资源社会保障自然规划住房城乡建设交通运输水利商务文化旅游卫生健康医疗应急管理市场监督统计林草生态环境改革教育科技工信公安司法审计税务供销妇残团"
PREFIXES = ["县", "市", "州", "区", "", "各"]
SUFFIXES = ["局", "委", "办", "委员会", "办公室", "中心", "人民政府", "服务站", "公司", "协会", "联合会", "乡镇"]
TITLES = ["发展特色产业", "稳定务工就业", "落实社会救助", "巩固住房安全", "加强动态监测", "推进消费帮扶", "壮大村集体经济"]
SEPARATORS = ["、", ",", ";", "，", "；", "\n"]

unit_names = st.builds(lambda p, core, s: p + core + s, st.sampled_from(PREFIXES), st.text(ALPHABET, min_size=1, max_size=8),
                       st.sampled_from(SUFFIXES))


@st.composite
def unit_cell(draw, min_size: int, max_size: int):
    names = draw(st.lists(unit_names, min_size=min_size, max_size=max_size))
    text = ""
    for k, name in enumerate(names):
        text += (draw(st.sampled_from(SEPARATORS)) if k else "") + name
    return names, text


@st.composite
def tables(draw):
    """(header, rows, expected (lead, responsible) per row)."""
    lead_header = draw(st.sampled_from([None, "牵头单位", "牵头部门"]))
    resp_headers = draw(st.sampled_from([["责任单位"], ["责任部门"], ["配合单位"], ["责任单位", "配合单位"],
                                         ["参与单位"], ["责任单位（加*号为牵头部门，其余为参与部门）"]]))
    marker = "*" in resp_headers[0]
    header = ["序号", draw(st.sampled_from(["任务名称", "重点任务", "工作任务"])), "任务要求及举措"]
    header += ([lead_header] if lead_header else []) + resp_headers + ["完成时限"]
    rows, expected = [], []
    for r in range(draw(st.integers(1, 8))):
        lead, lead_text = draw(unit_cell(0, 2)) if lead_header else ([], "")
        resp_cells = [draw(unit_cell(1, 4)) for _ in resp_headers]
        responsible = [n for names, _ in resp_cells for n in names]
        starred: list[str] = []
        if marker and not lead:
            names, text = resp_cells[0]
            picks = draw(st.lists(st.booleans(), min_size=len(names), max_size=len(names)))
            for name, pick in zip(names, picks, strict=True):
                if pick and text.count(name) == 1:
                    text = text.replace(name, draw(st.sampled_from(["*", "＊"])) + name, 1)
                    starred.append(name)
            resp_cells[0] = (names, text)
        row = [str(r + 1), draw(st.sampled_from(TITLES)), "开展工作。\n按时完成。"]
        row += ([lead_text] if lead_header else []) + [text for _, text in resp_cells] + [draw(st.sampled_from(["10月底", "长期坚持", "2024年6月30日前", ""]))]
        rows.append(row)
        if lead:
            expected.append((lead, responsible, False))
        elif starred:
            expected.append((starred, responsible, False))
        else:
            expected.append((responsible[:1], responsible, True))
    return header, rows, expected


def units(doc):
    return [(m.lead_units, m.responsible_units, m.lead_inferred) for m in doc.measures]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(tables(), st.booleans())
def test_docx_tables_give_back_their_units(table, paragraphs):
    header, rows, expected = table
    doc = parse_bytes(to_docx("某县重点任务分工表", header, rows, paragraphs_in_cells=paragraphs), "分工表.docx")
    assert units(doc) == expected
    assert [m.ref for m in doc.measures] == [str(k) for k in range(1, len(rows) + 1)]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(tables())
def test_xlsx_and_pipe_text_give_back_the_same_units(table):
    header, rows, expected = table
    assert units(parse_bytes(to_xlsx("某县重点任务分工表", header, rows), "分工表.xlsx")) == expected
    assert units(parse_text(to_pipes("某县重点任务分工表", header, rows))) == expected


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400), st.sampled_from(["a.xlsx", "a.xlsm", "a.docx", "a"]))
def test_any_bytes_named_as_a_table_raise_only_parse_error(data, name):
    with contextlib.suppress(ParseError):
        parse_bytes(b"PK\x03\x04" + data, name)
