"""Property tests: arbitrary input never crashes the parser, and punctuation width never matters."""

from __future__ import annotations

import contextlib
import io
import time

import pytest
from docx import Document as DocxDocument
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.tasks.policy_parser import (
    ParseError,
    document_to_dict,
    parse_bytes,
    parse_text,
    split_unit_list,
)

FULL = str.maketrans({"(": "（", ")": "）", ":": "：", ",": "，", ";": "；", "%": "％", "!": "！", "?": "？"})
PIECES = [
    "一、", "二、", "(一)", "(二)", "(十一)", "1.", "2.", "(1)", "①", "第一章", "\n", "。", ",", "、", ";", ":",
    "(牵头单位:", "责任单位:", ";责任单位:", ")", "〔", "〕", "【", "】", "牵头", "配合", "下同", "逗号前的单位为牵头单位",
    "县财政局", "市农业农村局", "各乡镇党委、政府", "各县(市、区)", "等", "“挂包帮”", "到2024年", "2022年",
    "6月30日前", "每年年底前", "达", "分别达", "16093元", "、", "元以上", "%以上", "1.2万人", "不低于", "4960元/人/年",
    "脱贫户", "易返贫致贫户", "家庭人均纯收入", "对", "的", "比达2.6:1", "以上", "扫一扫", "试读结束", "2023年3月1日",
    "某县人民政府", "实施方案", " ", "\u3000", "０", "ａ",
]
fragments = st.lists(st.sampled_from(PIECES), max_size=60).map("".join)
messy_text = st.one_of(st.text(max_size=300), fragments, st.lists(st.one_of(fragments, st.text(max_size=20)), max_size=8).map("".join))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messy_text)
def test_parse_text_raises_only_parse_error(text):
    try:
        doc = parse_text(text)
    except ParseError as err:
        assert err.reason and "\n" not in err.reason
        return
    assert doc.measures
    document_to_dict(doc)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.sampled_from(["a.txt", "a.html", "a.docx", "a", "a.htm", "a.TXT"]))
def test_parse_bytes_raises_only_parse_error(data, name):
    with contextlib.suppress(ParseError):
        parse_bytes(data, name)


@settings(max_examples=300, deadline=None)
@given(fragments, st.randoms(use_true_random=False))
def test_half_and_full_width_punctuation_give_the_same_result(text, rnd):
    mixed = "".join(ch.translate(FULL) if rnd.random() < 0.5 else ch for ch in text)
    try:
        expected = document_to_dict(parse_text(text))
    except ParseError:
        try:
            parse_text(mixed)
        except ParseError:
            return
        raise AssertionError("full-width variant parsed where half-width did not") from None
    assert document_to_dict(parse_text(mixed)) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_split_unit_list_is_total_and_keeps_no_separators(text):
    names, and_others = split_unit_list(text)
    assert isinstance(and_others, bool)
    for name in names:
        assert name and name == name.strip()
        assert not name.endswith("等")


@settings(max_examples=15, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_docx_round_trip_matches_text(text):
    docx = DocxDocument()
    lines = text.split("\n")
    for line in lines:
        docx.add_paragraph(line.replace("\u3000", " "))
    buf = io.BytesIO()
    docx.save(buf)
    plain = "\n".join(line.replace("\u3000", " ") for line in lines)
    try:
        expected = document_to_dict(parse_text(plain))
    except ParseError:
        expected = None
    try:
        got = document_to_dict(parse_bytes(buf.getvalue(), "x.docx"))
    except ParseError:
        got = None
    assert got == expected


BASE = "一、任务\n(一)做好。(责任单位:县财政局)\n"


@pytest.mark.parametrize(
    "text",
    [
        "(x" * 20000,
        "(牵头x" * 20000,
        BASE + "(" * 5000 + "达1元" + ")" * 5000,
        BASE + "达1元," * 10000,
        BASE + "1元、" * 10000,
        BASE + "责任单位:县财政局。" * 5000,
        "\n".join(["1.(责任单位:县财政局)"] * 5000),
    ],
)
def test_pathological_input_stays_fast(text):
    start = time.perf_counter()
    with contextlib.suppress(ParseError):
        parse_text(text)
    assert time.perf_counter() - start < 10
