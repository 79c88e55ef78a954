"""Bulletins from facts: the table, the totals, the overdue list, praise and
criticism; the XLSX opened back cell by cell; the HTML printable and escaped."""

import io

from openpyxl import load_workbook

from services.assessment.bulletins import assemble, notices, periods_of, render_html, render_xlsx
from services.assessment.model import UnitScore

NAMES = {1: "县人社局", 2: "县财政局", 3: "<b>县农业农村局</b>"}


def facts():
    rows = []
    for step in range(4):
        rows.append({"unit_id": 1, "kind": "step_due", "step_id": step, "ref": f"任务{step}"})
        rows.append({"unit_id": 1, "kind": "step_on_time", "step_id": step, "ref": f"任务{step}"})
    rows += [{"unit_id": 2, "kind": "step_due", "step_id": 10, "ref": "任务10 · 月报"},
             {"unit_id": 2, "kind": "step_overdue", "step_id": 10, "ref": "任务10 · 月报"},
             {"unit_id": 2, "kind": "step_escalated", "step_id": 10, "ref": "任务10 · 月报"},
             {"unit_id": 2, "kind": "step_escalated", "step_id": 10, "ref": "任务10 · 月报"},
             {"unit_id": 3, "kind": "alert_raised", "step_id": None, "ref": "预警 H1"}]
    return rows


def scores():
    return [UnitScore(1, "2023-03", 98.0, "好", 1, False, praise=True),
            UnitScore(2, "2023-03", 61.5, "较差", 3, False, criticism=True),
            UnitScore(3, "2023-03", 85.0, "较好", 2, False)]


def test_periods_covered():
    assert periods_of("monthly", "2023-03") == ["2023-03"]
    assert periods_of("quarterly", "2023-Q2") == ["2023-04", "2023-05", "2023-06"]
    assert len(periods_of("half_year", "2023-H1")) == 6 and len(periods_of("annual", "2023")) == 12


def test_assembly_counts_ranks_and_names():
    b = assemble("monthly", "姚安县", "2023-03", facts(), NAMES, scores())
    assert b.title == "姚安县巩固拓展脱贫攻坚成果工作月通报(2023年3月)"
    assert [r.unit for r in b.rows] == ["县人社局", "<b>县农业农村局</b>", "县财政局"], "ordered by rank"
    first, _, last = b.rows
    assert (first.due, first.on_time, first.on_time_rate) == (4, 4, 100.0)
    assert (last.overdue, last.escalated, last.on_time_rate) == (1, 1, 0.0), "one escalated step counts once"
    assert b.overdue_items == [{"unit": "县财政局", "item": "任务10 · 月报"}]
    assert b.praise == ["县人社局"] and b.criticism == ["县财政局"]
    assert (b.totals().due, b.totals().on_time, b.totals().alerts) == (5, 4, 1)


def test_xlsx_cell_by_cell():
    b = assemble("monthly", "姚安县", "2023-03", facts(), NAMES, scores())
    ws = load_workbook(io.BytesIO(render_xlsx(b))).active
    assert ws["A1"].value == b.title
    assert [c.value for c in ws[2]][:4] == ["序号", "单位", "应报(项)", "按时报送"]
    assert [c.value for c in ws[3]][:4] == [1, "县人社局", 4, 4]
    assert ws.cell(row=3, column=10).value == 100.0 and ws.cell(row=3, column=12).value == "好"
    total = [c.value for c in ws[6]]
    assert total[1] == "合计" and total[2] == 5 and total[3] == 4


def test_html_is_printable_and_escaped():
    html = render_html(assemble("quarterly", "姚安县", "2023-Q1", facts(), NAMES, scores()))
    assert "季度分析(2023年第1季度)" in html and "<svg" in html and "@media print" in html
    assert "<b>县农业农村局</b>" not in html and "&lt;b&gt;县农业农村局&lt;/b&gt;" in html
    assert "县财政局:任务10 · 月报" in html


def test_notices_tell_each_named_unit_its_figures_praise_and_criticism():
    data = {"title": "姚安县巩固拓展脱贫攻坚成果工作月通报(2023年3月)", "praise": ["县人社局"], "criticism": ["县财政局"],
            "rows": [{"unit_id": 1, "unit": "县人社局", "due": 5, "on_time": 5, "overdue": 0, "on_time_rate": 100.0,
                      "score": 98.5, "grade": "好", "rank": 1},
                     {"unit_id": 2, "unit": "县财政局", "due": 5, "on_time": 4, "overdue": 1, "on_time_rate": 80.0,
                      "score": 61.0, "grade": "较差", "rank": 2},
                     {"unit_id": 3, "unit": "县水务局", "due": 0, "on_time": 0, "overdue": 0, "on_time_rate": None,
                      "score": None, "grade": "", "rank": None}]}
    sent = {n.unit_id: n for n in notices(data, 42)}
    assert set(sent) == {1, 2, 3}
    assert sent[1].title == "姚安县巩固拓展脱贫攻坚成果工作月通报(2023年3月)已印发"
    assert "第1名" in sent[1].body and "列入通报表扬" in sent[1].body and "批评" not in sent[1].body
    assert "逾期未报1项" in sent[2].body and "通报批评、约谈" in sent[2].body and "表扬" not in sent[2].body
    assert "按时率" not in sent[3].body and "得分" not in sent[3].body and "编号 42" in sent[3].body
