"""Bytes and files in: encodings, .docx built on the fly, HTML with site junk."""

from __future__ import annotations

import io

import pytest
from docx import Document as DocxDocument

from services.tasks.policy_parser import (
    ParseError,
    document_to_dict,
    parse_bytes,
    parse_path,
    parse_text,
)

TEXT = (
    "关于印发《某县促进脱贫人口增收实施方案》的通知\n"
    "某县乡村振兴领导小组\n2022年7月11日\n"
    "某县促进脱贫人口增收实施方案\n"
    "一、重点任务\n"
    "(一)加强监测。按月开展动态监测,确保办结率稳定达98%以上。(牵头单位:县乡村振兴局;责任单位:县民政局、县财政局,各乡镇党委、政府)\n"
    "(二)完成整改。6月30日前完成问题整改。(责任单位:县纪委县监委、各县(市、区))\n"
)


def summary(doc):
    return (doc.title, doc.issuer, doc.date, [(m.ref, m.lead_units, m.responsible_units) for m in doc.measures])


EXPECTED = (
    "某县促进脱贫人口增收实施方案",
    "某县乡村振兴领导小组",
    "2022-07-11",
    [
        ("一.(一)", ["县乡村振兴局"], ["县民政局", "县财政局", "各乡镇党委、政府"]),
        ("一.(二)", ["县纪委县监委"], ["县纪委县监委", "各县(市、区)"]),
    ],
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_text_in_any_common_encoding(encoding):
    assert summary(parse_bytes(TEXT.encode(encoding), "plan.txt")) == EXPECTED


def test_gbk_file_on_disk(tmp_path):
    path = tmp_path / "方案.txt"
    path.write_bytes(TEXT.replace("\n", "\r\n").encode("gbk"))
    doc = parse_path(path)
    assert summary(doc) == EXPECTED
    deadline = doc.measures[1].deadlines[0]
    assert (deadline.phrase, deadline.date, deadline.year_inferred) == ("6月30日前", "2023-06-30", True)


def test_docx_paragraphs_and_table(tmp_path):
    docx = DocxDocument()
    for line in TEXT.splitlines():
        docx.add_paragraph(line)
    table = docx.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "附件"
    table.cell(0, 1).text = "任务清单"
    buf = io.BytesIO()
    docx.save(buf)
    assert summary(parse_bytes(buf.getvalue(), "plan.docx")) == EXPECTED
    path = tmp_path / "plan.docx"
    path.write_bytes(buf.getvalue())
    assert summary(parse_path(path)) == EXPECTED


def test_html_page_with_site_junk():
    body = "".join(f"<p>{line}</p>" for line in TEXT.splitlines())
    html = (
        "<html><head><meta charset='gbk'><title>某县人民政府网</title><script>var a=1;</script></head><body>"
        "<div class='nav'><a href='/'>首页</a><a>政务公开</a></div>"
        "<div class='crumb'>当前位置:首页&gt;&gt;政策文件</div>"
        "<table><tr><td>索引号:</td><td>123-2022-001</td><td>发布机构:</td><td>某县乡村振兴局</td></tr></table>"
        f"<div id='zoom'>{body}</div>"
        "<div>扫一扫在手机打开当前页</div><div>【打印本页】【关闭窗口】</div>"
        "<div>账号+密码登录</div><div>微信扫码登录</div><div>还没有账号?</div><div>立即注册</div>"
        "<footer>版权所有:某县人民政府 滇ICP备12345号</footer></body></html>"
    )
    doc = parse_bytes(html.encode("gbk"), "page.html")
    assert summary(doc) == EXPECTED
    text = document_to_dict(doc)
    flat = str(text)
    for junk in ("扫一扫", "打印本页", "账号+密码", "立即注册", "版权所有", "var a", "政务公开"):
        assert junk not in flat


def test_pasted_page_text_with_junk_lines():
    pasted = "当前位置: 某县人民政府>>政策文件>>\n来源 :某县乡村振兴局 访问次数 : 发布时间 :2022-07-12\n" + TEXT + "打印本页 关闭窗口\n账号+密码登录\n立即注册\n"
    assert summary(parse_text(pasted)) == EXPECTED


def test_truncated_template_stops_at_paywall_marker():
    text = TEXT + "............试读结束............\n(三)其他。(责任单位:县财政局)\n"
    assert len(parse_text(text).measures) == 2


@pytest.mark.parametrize(
    "data,name",
    [(b"", "a.txt"), (b"   ", "a.txt"), (b"PK\x03\x04broken", "a.docx"), (b"%PDF-1.4", "a.pdf"), (b"\xd0\xcf\x11\xe0", "a.doc")],
)
def test_unreadable_input_raises_parse_error(data, name):
    with pytest.raises(ParseError) as err:
        parse_bytes(data, name)
    assert err.value.reason and "\n" not in err.value.reason


def test_missing_file_raises_parse_error(tmp_path):
    with pytest.raises(ParseError):
        parse_path(tmp_path / "missing.txt")
