"""Each annotation layout on a small hand-written document."""

from __future__ import annotations

import pytest

from services.tasks.policy_parser import ParseError, document_to_dict, parse_text

HEAD = "某县巩固拓展脱贫攻坚成果实施方案\n某县人民政府\n2023年3月1日\n"


def units(doc):
    return [(m.ref, m.lead_units, m.responsible_units, m.lead_inferred, m.and_others) for m in doc.measures]


def test_inline_lead_and_responsible():
    doc = parse_text(HEAD + "一、重点任务\n(一)加强监测。按月开展监测。(牵头单位:县乡村振兴局;责任单位:县民政局、县财政局,各乡镇党委、政府)\n")
    assert units(doc) == [("一.(一)", ["县乡村振兴局"], ["县民政局", "县财政局", "各乡镇党委、政府"], False, False)]
    m = doc.measures[0]
    assert m.title == "加强监测"
    assert m.text == "加强监测。按月开展监测。"
    assert m.raw_annotation == "(牵头单位:县乡村振兴局;责任单位:县民政局、县财政局,各乡镇党委、政府)"
    assert (doc.title, doc.issuer, doc.date) == ("某县巩固拓展脱贫攻坚成果实施方案", "某县人民政府", "2023-03-01")


def test_own_lines_after_the_measure():
    doc = parse_text(HEAD + "二、工作措施\n(一)完善监测机制。完善系统。\n牵头单位:州扶贫办\n责任单位:各县市、州民政局\n(二)健全产业机制。发展产业。\n牵头单位:州农业农村局、州林草局\n责任单位:各县市\n")
    assert units(doc) == [
        ("二.(一)", ["州扶贫办"], ["各县市", "州民政局"], False, False),
        ("二.(二)", ["州农业农村局", "州林草局"], ["各县市"], False, False),
    ]
    assert doc.measures[0].raw_annotation == "牵头单位:州扶贫办\n责任单位:各县市、州民政局"
    assert doc.measures[1].text == "健全产业机制。发展产业。"


def test_lenticular_brackets_responsible_only():
    doc = parse_text(HEAD + "1.做好搬迁后续扶持。完善配套。〔责任单位:市发展改革委、市民政局〕\n2.做好培训。开展培训。【责任单位:市人社局】\n")
    assert units(doc) == [
        ("1", ["市发展改革委"], ["市发展改革委", "市民政局"], True, False),
        ("2", ["市人社局"], ["市人社局"], True, False),
    ]


def test_responsible_only_first_unit_is_inferred_lead():
    doc = parse_text(HEAD + "(一)强化投入保障。争取资金支持。(责任单位:市财政局、市扶贫办,各县区党委、政府)\n")
    assert units(doc) == [("(一)", ["市财政局"], ["市财政局", "市扶贫办", "各县区党委、政府"], True, False)]


def test_comma_note_applies_to_this_and_following_measures():
    text = HEAD + (
        "一、任务\n"
        "1.发展产业。(责任单位:市农业农村局、市林草局,各县区人民政府。逗号前的单位为牵头单位,下同)\n"
        "2.稳定就业。(责任单位:市人社局,市财政局、各县区人民政府)\n"
        "3.兜底保障。(牵头单位:市民政局;责任单位:市残联,各县区人民政府)\n"
    )
    doc = parse_text(text)
    assert units(doc) == [
        ("一.1", ["市农业农村局", "市林草局"], ["市农业农村局", "市林草局", "各县区人民政府"], False, False),
        ("一.2", ["市人社局"], ["市人社局", "市财政局", "各县区人民政府"], False, False),
        ("一.3", ["市民政局"], ["市残联", "各县区人民政府"], False, False),
    ]


def test_note_in_its_own_bracket_and_without_xiatong_applies_once():
    text = HEAD + (
        "1.发展产业。(责任单位:市农业农村局、市林草局,各县区人民政府)(逗号前的单位为牵头单位)\n"
        "2.稳定就业。(责任单位:市人社局、市财政局,各县区人民政府)\n"
    )
    doc = parse_text(text)
    assert [(m.lead_units, m.lead_inferred) for m in doc.measures] == [
        (["市农业农村局", "市林草局"], False),
        (["市人社局"], True),
    ]


def test_document_level_note_first_listed_is_lead():
    text = HEAD + "注:各项任务责任单位中排在第一位的为牵头单位。\n1.发展产业。(责任单位:市农业农村局、市林草局)\n"
    doc = parse_text(text)
    assert units(doc) == [("1", ["市农业农村局"], ["市农业农村局", "市林草局"], False, False)]


def test_variant_labels_and_verb_style():
    text = HEAD + (
        "1.发展产业。(牵头部门:县农业农村局;配合单位:县财政局、县林草局等)\n"
        "2.稳定就业。(县人社局牵头,县财政局、各乡镇配合)\n"
        "3.改善住房。(责任部门:县住建局(牵头)、县自然资源局)\n"
    )
    doc = parse_text(text)
    assert units(doc) == [
        ("1", ["县农业农村局"], ["县财政局", "县林草局"], False, True),
        ("2", ["县人社局"], ["县财政局", "各乡镇"], False, False),
        ("3", ["县住建局"], ["县住建局", "县自然资源局"], False, False),
    ]


def test_several_annotations_in_one_section_are_separate_measures():
    text = HEAD + "(一)产业帮扶\n发展特色产业。(责任单位:县农业农村局)\n加强技能培训。(责任单位:县人社局)\n"
    doc = parse_text(text)
    assert [(m.ref, m.title, m.lead_units) for m in doc.measures] == [
        ("(一)#1", "产业帮扶", ["县农业农村局"]),
        ("(一)#2", "加强技能培训", ["县人社局"]),
    ]


def test_unnumbered_paragraphs():
    text = "做好防返贫监测。(责任单位:县乡村振兴局)\n做好就业帮扶。(责任单位:县人社局)\n"
    doc = parse_text(text)
    assert [(m.ref, m.text, m.lead_units) for m in doc.measures] == [
        ("#1", "做好防返贫监测。", ["县乡村振兴局"]),
        ("#2", "做好就业帮扶。", ["县人社局"]),
    ]


def test_annotation_time_limit_becomes_deadline():
    doc = parse_text(HEAD + "1.完成整改。(牵头单位:县财政局;责任单位:各乡镇;完成时限:2023年6月30日前)\n")
    m = doc.measures[0]
    assert (m.lead_units, m.responsible_units) == (["县财政局"], ["各乡镇"])
    assert [(d.phrase, d.date) for d in m.deadlines] == [("2023年6月30日前", "2023-06-30")]


def test_no_annotation_raises_parse_error():
    with pytest.raises(ParseError) as err:
        parse_text(HEAD + "一、总体要求\n(一)指导思想。坚持发展。\n")
    assert "no unit annotations" in err.value.reason and "牵头单位" in err.value.reason


@pytest.mark.parametrize("text", ["", "   \n\n  ", "扫一扫\n打印本页\n"])
def test_empty_raises_parse_error(text):
    with pytest.raises(ParseError):
        parse_text(text)


PUNCT_HALF = HEAD + "一、重点任务\n(一)加强监测。比例达到65%以上,比达2.6:1。(牵头单位:县乡村振兴局;责任单位:县民政局,各县(市、区)党委、政府)\n"


def test_full_width_punctuation_gives_the_same_result():
    full = PUNCT_HALF.translate(str.maketrans({"(": "（", ")": "）", ":": "：", ",": "，", ";": "；", "%": "％"}))
    assert full != PUNCT_HALF
    assert document_to_dict(parse_text(full)) == document_to_dict(parse_text(PUNCT_HALF))
    m = parse_text(full).measures[0]
    assert m.responsible_units == ["县民政局", "各县(市、区)党委、政府"]
    assert [(t.value, t.unit) for t in m.targets] == [(65, "%"), (2.6, ":1")]


def test_numbering_restarts_and_continuous_numbering():
    text = HEAD + (
        "一、产业\n(一)种植。(责任单位:县农业农村局)\n(二)养殖。(责任单位:县畜牧局)\n"
        "二、就业\n(三)培训。(责任单位:县人社局)\n"
        "三、保障\n1.兜底。(责任单位:县民政局)\n四、监督\n2.考核。(责任单位:县委组织部)\n"
    )
    doc = parse_text(text)
    assert [m.ref for m in doc.measures] == ["一.(一)", "一.(二)", "二.(三)", "三.1", "四.2"]
    assert [s.ref for s in doc.sections] == ["一", "二", "三", "四"]


def test_annotation_on_the_heading_line_covers_the_whole_item():
    doc = parse_text("一、任务\n(一)产业帮扶(牵头单位:县农业农村局)\n发展特色产业,新增合作社30个。\n(二)就业帮扶\n")
    m = doc.measures[0]
    assert (m.ref, m.title, m.text) == ("一.(一)", "产业帮扶", "产业帮扶\n发展特色产业,新增合作社30个。")
    assert [(t.indicator, t.value, t.unit) for t in m.targets] == [("新增合作社", 30, "个")]


def test_annotation_after_a_group_of_sub_items_covers_the_group():
    doc = parse_text(
        "一、任务\n(一)产业帮扶。做好以下工作:\n1.发展种植,新增基地5个。\n2.发展养殖。\n(牵头单位:县农业农村局;责任单位:各乡镇)\n"
        "(二)就业帮扶。\n1.技能培训。(责任单位:县人社局)\n2.公益岗位。\n(责任单位:县林草局)\n"
    )
    assert [(m.ref, m.title, m.lead_units) for m in doc.measures] == [
        ("一.(一)", "产业帮扶", ["县农业农村局"]),
        ("一.(二).1", "技能培训", ["县人社局"]),
        ("一.(二).2", "公益岗位", ["县林草局"]),
    ]
    assert doc.measures[0].text == "产业帮扶。做好以下工作:\n1.发展种植,新增基地5个。\n2.发展养殖。"
    assert [(t.indicator, t.value) for t in doc.measures[0].targets] == [("新增基地", 5)]
