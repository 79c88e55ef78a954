"""Bulletins — 月通报, 季分析, 半年小结, 年终总结 — assembled from the fact ledger and
the scores, and rendered as printable HTML (a bar chart drawn in SVG, so it prints
and needs nothing from the internet) and as an official-looking XLSX table.

Pure: facts, unit names and scores in; data, HTML and bytes out."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from html import escape

from services.assessment.model import UnitScore
from services.common.excel import Column, to_xlsx

KIND_TITLES = {"monthly": "月通报", "quarterly": "季度分析", "half_year": "半年小结", "annual": "年终总结"}


def periods_of(kind: str, period: str) -> list[str]:
    """The months a bulletin covers: 2023-05; 2023-Q2 → 04..06; 2023-H1 → 01..06; 2023 → 01..12."""
    year = period[:4]
    if kind == "monthly":
        return [period]
    if kind == "quarterly":
        q = int(period[-1])
        return [f"{year}-{m:02d}" for m in range(3 * q - 2, 3 * q + 1)]
    if kind == "half_year":
        return [f"{year}-{m:02d}" for m in range(1, 7)]
    return [f"{year}-{m:02d}" for m in range(1, 13)]


@dataclass
class UnitRow:
    unit_id: int
    unit: str
    due: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    escalated: int = 0
    returned: int = 0
    alerts: int = 0
    score: float | None = None
    grade: str = ""
    rank: int | None = None

    @property
    def on_time_rate(self) -> float | None:
        return round(100 * self.on_time / self.due, 1) if self.due else None


@dataclass
class Bulletin:
    kind: str
    region_name: str
    period: str
    title: str
    rows: list[UnitRow]
    overdue_items: list[dict]
    praise: list[str] = field(default_factory=list)
    criticism: list[str] = field(default_factory=list)

    def totals(self) -> UnitRow:
        t = UnitRow(0, "合计")
        for r in self.rows:
            for f in ("due", "on_time", "late", "overdue", "escalated", "returned", "alerts"):
                setattr(t, f, getattr(t, f) + getattr(r, f))
        return t


FACT_FIELDS = {"step_due": "due", "step_on_time": "on_time", "step_late": "late", "step_overdue": "overdue",
               "step_escalated": "escalated", "step_returned": "returned", "alert_raised": "alerts"}


def assemble(kind: str, region_name: str, period: str, facts: list[dict], unit_names: dict[int, str],
             scores: list[UnitScore]) -> Bulletin:
    """`facts`: rows with unit_id, kind, ref (and task_id, step_id) of the covered months."""
    rows: dict[int, UnitRow] = {}
    overdue_items = []
    counted: dict[str, set] = defaultdict(set)
    for f in sorted(facts, key=lambda f: (f["unit_id"], f["kind"], f.get("step_id") or 0, f.get("ref", ""))):
        row = rows.setdefault(f["unit_id"], UnitRow(f["unit_id"], unit_names.get(f["unit_id"], f"单位{f['unit_id']}")))
        name = FACT_FIELDS.get(f["kind"])
        if name is None:
            continue
        key = (f["unit_id"], f.get("step_id"), f.get("ref")) if f["kind"] == "step_escalated" else None
        if key is not None and key in counted["escalated"]:
            continue  # one escalated step counts once, whatever rung it reached
        if key is not None:
            counted["escalated"].add(key)
        setattr(row, name, getattr(row, name) + 1)
        if f["kind"] == "step_overdue":
            overdue_items.append({"unit": row.unit, "item": f.get("ref", "")})
    for s in scores:
        if s.unit_id in rows:
            rows[s.unit_id].score, rows[s.unit_id].grade, rows[s.unit_id].rank = s.total, s.grade, s.rank
    ordered = sorted(rows.values(), key=lambda r: (r.rank is None, r.rank or 0, -(r.on_time_rate or 0), r.unit_id))
    title = f"{region_name}巩固拓展脱贫攻坚成果工作{KIND_TITLES[kind]}({period_label(kind, period)})"
    return Bulletin(
        kind, region_name, period, title, ordered, overdue_items,
        praise=[unit_names.get(s.unit_id, str(s.unit_id)) for s in scores if s.praise],
        criticism=[unit_names.get(s.unit_id, str(s.unit_id)) for s in scores if s.criticism],
    )


def period_label(kind: str, period: str) -> str:
    y = period[:4]
    if kind == "monthly":
        return f"{y}年{int(period[5:7])}月"
    if kind == "quarterly":
        return f"{y}年第{period[-1]}季度"
    if kind == "half_year":
        return f"{y}年上半年"
    return f"{y}年度"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def render_html(b: Bulletin) -> str:
    width, bar_h = 640, 22
    chart_rows = [r for r in b.rows if r.on_time_rate is not None][:20]
    bars = "".join(
        f'<text x="0" y="{i * bar_h + 15}" font-size="12">{escape(r.unit[:14])}</text>'
        f'<rect x="190" y="{i * bar_h + 4}" width="{(width - 260) * r.on_time_rate / 100:.0f}" height="14" fill="#c0392b"/>'
        f'<text x="{195 + (width - 260) * r.on_time_rate / 100:.0f}" y="{i * bar_h + 15}" font-size="11">{_pct(r.on_time_rate)}</text>'
        for i, r in enumerate(chart_rows)
    )
    head = "".join(f"<th>{h}</th>" for h in ("序号", "单位", "应报", "按时", "逾期报送", "逾期未报", "被督办", "退回",
                                              "预警", "按时率", "得分", "等次", "排名"))
    body = "".join(
        f"<tr><td>{i}</td><td>{escape(r.unit)}</td><td>{r.due}</td><td>{r.on_time}</td><td>{r.late}</td>"
        f"<td>{r.overdue}</td><td>{r.escalated}</td><td>{r.returned}</td><td>{r.alerts}</td>"
        f"<td>{_pct(r.on_time_rate)}</td><td>{'' if r.score is None else f'{r.score:.2f}'}</td><td>{r.grade}</td>"
        f"<td>{r.rank or ''}</td></tr>"
        for i, r in enumerate(b.rows, start=1)
    )
    t = b.totals()
    body += (f"<tr class='total'><td></td><td>合计</td><td>{t.due}</td><td>{t.on_time}</td><td>{t.late}</td>"
             f"<td>{t.overdue}</td><td>{t.escalated}</td><td>{t.returned}</td><td>{t.alerts}</td>"
             f"<td>{_pct(t.on_time_rate)}</td><td></td><td></td><td></td></tr>")
    overdue = "".join(f"<li>{escape(o['unit'])}:{escape(o['item'])}</li>" for o in b.overdue_items[:200]) or "<li>无</li>"
    praise = "、".join(map(escape, b.praise)) or "无"
    criticism = "、".join(map(escape, b.criticism)) or "无"
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(b.title)}</title>
<style>body{{font-family:"SimSun","Songti SC",serif;margin:2em;}}h1{{text-align:center;font-size:22px;}}
table{{border-collapse:collapse;width:100%;font-size:13px;}}th,td{{border:1px solid #333;padding:4px;text-align:center;}}
tr.total td{{font-weight:bold;}}@media print{{body{{margin:0;}}}}</style></head><body>
<h1>{escape(b.title)}</h1>
<h2>一、各单位任务推进情况</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<h2>二、按时报送率</h2><svg width="{width}" height="{max(1, len(chart_rows)) * bar_h + 10}" role="img">{bars}</svg>
<h2>三、逾期未报事项</h2><ol>{overdue}</ol>
<h2>四、通报表扬</h2><p>{praise}</p>
<h2>五、通报批评、约谈</h2><p>{criticism}</p>
</body></html>"""


def render_xlsx(b: Bulletin) -> bytes:
    columns = [
        Column("unit", "单位"), Column("due", "应报(项)"), Column("on_time", "按时报送"), Column("late", "逾期报送"),
        Column("overdue", "逾期未报"), Column("escalated", "被督办"), Column("returned", "被退回"), Column("alerts", "预警"),
        Column(lambda r: r.on_time_rate, "按时率(%)", number_format="0.0"),
        Column(lambda r: r.score, "得分", number_format="0.00"), Column("grade", "等次"), Column("rank", "排名"),
    ]
    return to_xlsx(b.title, columns, [*b.rows, b.totals()], sheet_name=KIND_TITLES[b.kind])


def to_data(b: Bulletin) -> dict:
    return {
        "title": b.title, "kind": b.kind, "period": b.period, "region": b.region_name,
        "rows": [{**r.__dict__, "on_time_rate": r.on_time_rate} for r in b.rows],
        "totals": {**b.totals().__dict__, "on_time_rate": b.totals().on_time_rate},
        "overdue_items": b.overdue_items, "praise": b.praise, "criticism": b.criticism,
    }


@dataclass(frozen=True)
class Notice:
    """What one unit named in a bulletin is told when it is published."""

    unit_id: int
    title: str
    body: str


def notices(data: dict, bulletin_id: int) -> list[Notice]:
    """One notice per unit with a row in the bulletin (stored `data`): its own figures,
    and whether it is praised (通报表扬) or criticised (通报批评、约谈)."""
    praise, criticism = set(data.get("praise", [])), set(data.get("criticism", []))
    out = []
    for r in data["rows"]:
        parts = [f"应报{r['due']}项, 按时{r['on_time']}项" + (f", 按时率{r['on_time_rate']:.1f}%" if r.get("on_time_rate")
                                                             is not None else "")]
        if r["overdue"]:
            parts.append(f"逾期未报{r['overdue']}项")
        if r.get("score") is not None:
            parts.append(f"得分{r['score']:.2f}, 等次{r['grade']}, 第{r['rank']}名")
        if r["unit"] in praise:
            parts.append("列入通报表扬")
        if r["unit"] in criticism:
            parts.append("列入通报批评、约谈名单, 请抓紧整改")
        out.append(Notice(r["unit_id"], f"{data['title']}已印发",
                          f"{r['unit']}: " + "; ".join(parts) + f"。详见通报 (编号 {bulletin_id})。"))
    return out
