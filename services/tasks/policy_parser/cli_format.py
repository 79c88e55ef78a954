"""Plain-text table of the proposed task list for ``--format table``.

Widths are counted in terminal columns (CJK characters take two) so the
columns line up in a terminal without any third-party table library.
"""

from __future__ import annotations

import unicodedata

from .model import Deadline, Document, Target

_COLUMNS = (("ref", 16), ("措施", 24), ("牵头单位", 20), ("责任单位", 28), ("目标", 24), ("时限", 24))


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _fit(s: str, width: int) -> str:
    s = s.replace("\n", " ")
    if _width(s) > width:
        out, used = "", 0
        for ch in s:
            w = _width(ch)
            if used + w > width - 1:
                break
            out, used = out + ch, used + w
        s = out + "…"
    return s + " " * (width - _width(s))


def _target(t: Target) -> str:
    year = f"{t.year}:" if t.year else ""
    if t.comparator == "qualitative":
        return f"{year}{t.indicator[-6:]} {t.text}"
    value = "?" if t.value is None else f"{t.value:g}"
    return f"{year}{t.category or ''}{t.indicator[-6:]}{t.comparator}{value}{t.unit or ''}"


def _deadline(d: Deadline) -> str:
    if d.date:
        return d.date
    return f"每年{d.month_day}" if d.recurring == "yearly" and d.month_day else d.phrase


def format_table(doc: Document) -> str:
    header = " | ".join(_fit(name, w) for name, w in _COLUMNS)
    lines = [
        f"{doc.title or '(无标题)'}  {doc.issuer or ''}  {doc.date or ''}".rstrip(),
        header,
        "-+-".join("-" * w for _, w in _COLUMNS),
    ]
    for m in doc.measures:
        lead = "、".join(m.lead_units) + ("(推定)" if m.lead_inferred else "")
        resp = "、".join(m.responsible_units) + ("等" if m.and_others else "")
        targets = f"{len(m.targets)}项 " + "; ".join(_target(t) for t in m.targets) if m.targets else "-"
        deadlines = "; ".join(_deadline(d) for d in m.deadlines) or "-"
        cells = (m.ref, m.title, lead, resp, targets, deadlines)
        lines.append(" | ".join(_fit(c, w) for c, (_, w) in zip(cells, _COLUMNS, strict=True)).rstrip())
    lines.append(f"共 {len(doc.measures)} 项措施, 文档目标 {len(doc.targets)} 项")
    return "\n".join(lines)
