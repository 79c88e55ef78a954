"""Section tree, header detection and the CLI table."""

from __future__ import annotations

from services.tasks.policy_parser import format_table, parse_text
from services.tasks.policy_parser.structure import build_tree, cn_to_int, match_marker


def test_cn_numerals():
    assert [cn_to_int(s) for s in ("一", "十", "十一", "二十", "二十八", "九十九", "一百零五", "12", "③")] == [1, 10, 11, 20, 28, 99, 105, 12, 3]


def test_markers():
    assert match_marker("一、总体要求")[:4] == ("cn", 1, "一、", "一")
    assert match_marker("(二十八)持续加强作风整治。")[:4] == ("pcn", 28, "(二十八)", "(二十八)")
    assert match_marker("1.2023年增收目标")[:4] == ("num", 1, "1.", "1")
    assert match_marker("(3)推动发展")[:4] == ("pnum", 3, "(3)", "(3)")
    assert match_marker("②加强培训")[:4] == ("circ", 2, "②", "②")
    assert match_marker("第一章 总则")[:2] == ("chapter", 1)
    assert match_marker("1.2万人以上") is None
    assert match_marker("2022年,脱贫户") is None


def test_tree_levels_follow_first_seen_order():
    root = build_tree(["一、甲", "(一)乙", "1.丙", "(1)丁", "①戊", "(二)己", "2.庚", "二、辛"])
    refs = [n.ref for n in root.walk()][1:]
    assert refs == ["一", "一.(一)", "一.(一).1", "一.(一).1.(1)", "一.(一).1.(1).①", "一.(二)", "一.(二).2", "二"]


def test_skipped_chapter_number_is_still_a_chapter():
    root = build_tree(["一、甲", "二、乙", "(一)丙", "四、丁", "(一)戊"])
    assert [n.ref for n in root.walk()][1:] == ["一", "二", "二.(一)", "四", "四.(一)"]


def test_out_of_sequence_number_in_text_is_not_a_heading():
    root = build_tree(["一、甲", "1.第一项", "7.这不是标题,只是正文里以数字开头的一句很长很长很长很长很长很长的话。", "2.第二项"])
    assert [n.ref for n in root.walk()][1:] == ["一", "一.1", "一.2"]


def test_heading_and_text():
    doc = parse_text("一、重点任务\n(一)加强监测。按月开展监测。\n持续跟踪。(责任单位:县乡村振兴局)\n")
    section = doc.sections[0].children[0]
    assert (section.number, section.heading, section.text) == ("(一)", "加强监测", "按月开展监测。\n持续跟踪。(责任单位:县乡村振兴局)")


def test_title_skips_covering_notice_and_keeps_year_range():
    text = (
        "关于印发《某市增收行动方案》的通知\n各县区:\n现将方案印发给你们。\n某市人民政府办公室\n2023年8月1日\n"
        "某市脱贫人口增收行动方案\n(2023—2025年)\n(征求意见稿)\n一、重点措施\n1.稳岗。(责任单位:市人社局)\n"
    )
    doc = parse_text(text)
    assert (doc.title, doc.issuer, doc.date) == ("某市脱贫人口增收行动方案(2023—2025年)", "某市人民政府办公室", "2023-08-01")


def test_issuer_and_date_from_page_metadata_and_chinese_date():
    doc = parse_text("信息来源:县乡村振兴局\n发布时间:2023-08-16 17:17\n某县实施方案\n1.稳岗。(责任单位:县人社局)\n")
    assert (doc.issuer, doc.date) == ("县乡村振兴局", "2023-08-16")
    doc = parse_text("某县实施方案\n某县人民政府\n二〇二二年七月十一日\n1.稳岗。(责任单位:县人社局)\n")
    assert (doc.issuer, doc.date) == ("某县人民政府", "2022-07-11")


def test_title_year_is_the_default_target_year():
    doc = parse_text("全市2021年工作要点\n一、任务\n(一)建设。改造农村卫生厕所6.56万户。(责任单位:市农业农村局)\n")
    assert [(t.year, t.value, t.unit) for t in doc.measures[0].targets] == [(2021, 6.56, "万户")]


def test_format_table():
    doc = parse_text(
        "某县实施方案\n某县人民政府\n2023年3月1日\n一、任务\n"
        "(一)加强防返贫动态监测和帮扶工作机制建设。到2024年覆盖率达98%以上,6月30日前完成排查。(牵头单位:县乡村振兴局;责任单位:县民政局、县财政局等)\n"
        "(二)稳岗。(责任单位:县人社局)\n"
    )
    table = format_table(doc).splitlines()
    assert table[0] == "某县实施方案  某县人民政府  2023-03-01"
    assert "牵头单位" in table[1] and "时限" in table[1]
    assert table[3].startswith("一.(一)") and "县乡村振兴局" in table[3] and "1项 2024:覆盖率>=98%" in table[3]
    assert "2023-06-30" in table[3] and "…" in table[3]
    assert "县人社局(推定)" in table[4]
    assert table[-1] == "共 2 项措施, 文档目标 0 项"


def test_joint_issuers_compact_date_and_two_line_title_behind_page_metadata():
    text = (
        "您现在所在的位置: 网站首页> 政府信息公开首页 > 乡村振兴\n"
        "索引号: 113417310557733698/202204-00017 组配分类: 乡村振兴\n"
        "发布机构: 某县数据资源管理局 主题分类: 综合政务\n"
        "生成日期: 2022-04-22 发布日期: 2022-04-22\n"
        "发布时间:2022-04-22 12:43 来源:某县数据资源管理局 浏览次数: 字体:[ ]\n"
        "中共某县委员会\n某县人民政府\n20210315\n(此件公开发布)\n"
        "全面推进乡村振兴\n加快农业农村现代化的实施方案\n"
        "一、重点任务\n(一)稳定粮食生产。确保2022年全县粮食播种面积稳定在62万亩以上。(牵头单位:县农业农村局;责任单位:各乡镇人民政府)\n"
    )
    doc = parse_text(text)
    assert (doc.title, doc.issuer, doc.date) == ("全面推进乡村振兴加快农业农村现代化的实施方案", "中共某县委员会、某县人民政府", "2021-03-15")
    assert all("索引号" not in s.text and "字体" not in s.text for s in doc.sections)
    assert [(t.indicator, t.year, t.value, t.unit) for t in doc.measures[0].targets] == [("全县粮食播种面积", 2022, 62, "万亩")]
