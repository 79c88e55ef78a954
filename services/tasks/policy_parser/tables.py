"""Task-division tables (任务分工表 / 任务清单) into the same ``Document`` as paragraphs.

Offices often publish measures as a table — 序号 | 任务名称 | 任务要求及举措 |
牵头单位 | 责任单位 | 完成时限, or 考核指标 | 单位 | 年度目标 | 责任部门 | 评分部门 —
in Word, in Excel, or pasted from a web page. The readers (``read_docx`` here,
``tables_xlsx``, ``tables_text``) turn each into ``Table`` objects: the columns,
recognised by their header names, and the rows with merged cells filled in.
``build_document`` then makes one measure per row with the paragraph parser's
own rules: unit lists through ``split_unit_list`` and ``resolve_units``,
deadlines through ``extract_deadlines``, targets through ``extract_targets``
when a text cell states them.

Column meanings (``column_of``): 牵头单位/部门 lead; 责任单位/部门, 配合/参与/协同
单位, 责任乡镇/街镇 responsible (in column order); 评分/考核部门 assessing, never
responsible; 完成时限/时间节点 deadlines; 考核指标 + 单位 + 年度目标/目标值
targets; category columns and 序号 the ref. A note in a unit column's header that
defines a marker (``加*号为牵头部门``, ``★``, ``（牵头）``) makes the marked names
the lead; with no lead column and no marker the first responsible unit is the
inferred lead, as in paragraphs.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from .annotations import Annotation, resolve_units, split_unit_list
from .clean import fold
from .deadlines import extract_deadlines
from .header import find_issuer_and_date
from .model import Deadline, Document, Measure, ParseError, Section, Target
from .structure import match_marker, split_heading
from .targets import _UNIT, extract_targets
from .text import split_top_sep

UNIT_KINDS = ("lead", "responsible", "assessing")
_CONTENT_KINDS = {"title", "text", "indicator"}

_EXACT: dict[str, str] = {
    name: kind
    for kind, names in {
        "ref": "序号 编号 序 项目编号 任务编号 任务序号",
        "category": "类别 分类 任务类别 任务分类 类型 领域 重点领域 板块 方面 一级指标 二级指标 三级指标 指标类别 "
                    "项目类别 工作类别 大类 小类 专项 行动",
        "title": "任务名称 任务 工作任务 重点任务 主要任务 重点工作 工作事项 任务事项 事项 项目 项目名称 具体任务 "
                 "任务项 重点工作任务 工作名称 工作重点 重点事项",
        "text": "任务要求及举措 任务要求 具体举措 工作措施 主要措施 具体措施 工作举措 措施 举措 目标任务 工作要求 "
                "具体内容 工作内容 主要内容 任务内容 落实措施 具体工作措施 工作目标及措施 主要举措 具体要求 推进措施 "
                "工作目标 目标要求 任务目标 具体工作 工作任务及措施 任务举措 工作举措及要求 具体任务及措施",
        "lead": "牵头单位 牵头部门 主责单位 主责部门 牵头责任单位 牵头责任部门 主要牵头单位 牵头 牵头县直部门 "
                "牵头市直部门 牵头处室 牵头科室",
        "responsible": "责任单位 责任部门 配合单位 配合部门 参与单位 参与部门 协同单位 协同部门 协办单位 协办部门 "
                       "责任乡镇 责任街镇 责任主体 实施单位 承办单位 配合 参与 落实单位 实施主体 成员单位 责任县区",
        "assessing": "评分部门 评分单位 考核部门 考核单位 考评部门 考评单位 评价部门 评价单位 考核评分部门 "
                     "评分责任部门 考核责任部门 考核评价部门",
        "deadline": "完成时限 完成时间 完成时间节点 时间节点 时限 时限要求 完成期限 办结时限 时间要求 进度安排 "
                    "时间安排 完成时限要求 推进时限 截止时间 完成节点",
        "indicator": "考核指标 指标 指标名称 具体指标 主要指标 目标指标 考核内容 评价指标 考核项目 指标内容 监测指标",
        "unit": "单位 计量单位 指标单位",
        "target": "年度目标 目标值 年度目标值 预期目标 目标 指标值 年度任务 年度目标任务 任务目标值 考核目标 目标任务值",
    }.items()
    for name in names.split()
}
_KEYWORDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((k, re.compile(p)) for k, p in (
    ("other", r"领导|责任人|联系人|负责人|备注|进展|完成情况|落实情况|佐证|分值|权重|标准|办法|细则|计分|现状|基数|基期"),
    ("assessing", r"(?:评分|考核|考评|评价|打分)(?:责任)?(?:部门|单位)"),
    ("lead", r"牵头.*(?:单位|部门|处室|科室)|主责(?:单位|部门)"),
    ("responsible", r"(?:责任|配合|参与|协同|协办|协助|实施|承办|落实|成员)(?:单位|部门|乡镇|街镇|主体|处室|科室|县区)"
                    r"|(?:乡镇|街镇|街道|县区|县市区)$"),
    ("deadline", r"时限|时间节点|完成时间|期限|完成节点|时间安排|进度安排|截止时间"),
    ("ref", r"^(?:序号|编号)"),
    ("category", r"^[一二三四]级指标|类别|分类|类型|领域|板块"),
    ("target", r"目标值|年度目标|^目标$|预期目标|指标值"),
    ("indicator", r"指标"),
    ("text", r"措施|举措|要求|内容|做法|路径"),
    ("title", r"任务|事项|工作|项目"),
))
_MARKERS = "*★☆※△▲●◆■#"
_MARKER_NOTE = re.compile(rf"([{re.escape(_MARKERS)}])(?:号|者|的|标注|标记)?[^。;\n]{{0,14}}?牵头")
_NOTE = re.compile(r"[(【\[〔]([^()【】\[\]〔〕]*)[)】\]〕]")
_YEAR = re.compile(r"((?:19|20)\d{2})\s*年度?")
_FOOTER = re.compile(r"^(?:注|备注|说明|附注|填表人|制表人|填报人|审核人|联系人|联系电话|制表单位|填报单位)\s*\d*\s*[::]")
_ANNEX = re.compile(r"^(?:附件|附表)\s*\d*\s*[::]?$")
_ORG_TAIL = re.compile(
    r"(?:局|委|办|部|厅|院|会|府|中心|公司|行|社|联|队|所|站|处|科|组|室|团|馆|署|县|市|区|镇|乡|村|街道|机构|部门|单位"
    r"|协|集团|企业|党委|政府|[)\]】*★☆※])$"
)
_LEAD_SUFFIX = "(牵头)"


@dataclass
class Column:
    kind: str  # ref category title text lead responsible assessing deadline indicator unit target other
    name: str  # the header as written, folded, notes dropped
    marker: str | None = None  # a lead marker the header's note defines
    year: int | None = None  # 2023年目标


@dataclass
class Row:
    cells: list[str] | None = None  # one text per column, merged cells filled in
    heading: str | None = None  # a row merged across the table (一、产业发展)


@dataclass
class Table:
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)


def normalize_cell(text: object) -> str:
    s = fold(str(text or "")).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(re.sub(r" {2,}", " ", line).strip() for line in s.split("\n")).strip()


def column_of(text: str) -> Column | None:
    """A header cell as a column, or None when it names nothing known."""
    full = re.sub(r"\s+", "", fold(text or "")).strip(":")
    core, prev = full, None
    notes: list[str] = []
    while prev != core:
        prev = core
        core = _NOTE.sub(lambda m: notes.append(m.group(1)) or "", core)
    marks = [ch for ch in _MARKERS if ch in core]
    core = core.strip(_MARKERS + ":")
    year_m = _YEAR.search(core)
    bare = _YEAR.sub("", core) if year_m else core
    kind = _kind(bare)
    if kind is None:
        return None
    note = "".join(notes)
    marker = None
    if kind in ("responsible", "lead"):
        found = _MARKER_NOTE.search(note) or _MARKER_NOTE.search(full)
        marker = found.group(1) if found else next((ch for ch in _MARKERS if ch in note), None) or (marks[0] if marks else None)
        if marker is None and "牵头" in note and kind == "responsible":
            marker = _LEAD_SUFFIX
    return Column(kind, core, marker, int(year_m.group(1)) if year_m else None)


def _kind(core: str) -> str | None:
    if not core or len(core) > 16 or re.search(r"[:、,;。!?]", core):
        return None
    if core in _EXACT:
        return _EXACT[core]
    for kind, rx in _KEYWORDS:
        if rx.search(core):
            return kind
    return None


def header_columns(cells: list[str]) -> list[Column] | None:
    """The columns when ``cells`` is a task table's header row, else None."""
    cols = [column_of(c) or Column("other", re.sub(r"\s+", "", fold(c or ""))) for c in cells]
    written = [c for c, text in zip(cols, cells, strict=True) if (text or "").strip()]
    known = [c for c in written if c.kind != "other"]
    kinds = {c.kind for c in known}
    if len(known) < 3 or 2 * len(known) < len(written) or not kinds & {"lead", "responsible"} or not kinds & _CONTENT_KINDS:
        return None
    if "unit" in kinds and not kinds & {"indicator", "target"}:
        for c in cols:
            if c.kind == "unit":
                c.kind = "responsible"
    return cols


def merge_header(top: list[Column], second: list[str]) -> list[Column] | None:
    """A second header row (牵头单位 | 配合单位 under a merged 责任单位) refines the first; None if it is no header."""
    below = [column_of(c) for c in second]
    if not any(b and b.kind != "other" and b.name != t.name for b, t in zip(below, top, strict=False)):
        return None
    if any((text or "").strip() and b is None and fold(text).strip() != t.name for b, t, text in zip(below, top, second, strict=False)):
        return None
    return [b if b is not None and b.kind != "other" else t for b, t in zip(below, top, strict=False)] + top[len(below):]


def same_header(cells: list[str], columns: list[Column]) -> bool:
    names = [re.sub(r"\s+", "", fold(c or "")) for c in cells]
    return sum(1 for n, c in zip(names, columns, strict=False) if n and (n == c.name or (column_of(n) or Column("", "")).name == c.name)) >= max(3, len(columns) - 1)


def heading_like(text: str) -> bool:
    found = match_marker(text)
    return found is not None and found[0] in ("chapter", "cn", "pcn") and len(text) <= 40 and not text.endswith("。")


def is_footer(text: str) -> bool:
    return bool(_FOOTER.match(text))


def note_marker(text: str) -> str | None:
    """``注:加*号的为牵头单位`` below a table defines the marker for its unit columns."""
    found = _MARKER_NOTE.search(fold(text))
    return found.group(1) if found else None


def classify_row(cells: list[str], own: list[bool], columns: list[Column]) -> Row | None:
    """A data row, a heading row (one value merged across, or a lone 一、… in the first column), or None to skip."""
    cells = [normalize_cell(c) for c in cells] + [""] * (len(columns) - len(cells))
    cells = cells[: len(columns)]
    present = [c for c in cells if c]
    if not present or same_header(cells, columns):
        return None
    mine = [c for c, o in zip(cells, own, strict=False) if o and c]
    inherited = [c for c, o in zip(cells, own, strict=False) if not o and c]
    if len(set(mine)) == 1 and not inherited:
        n = len(mine)
        if n >= max(2, (2 * len(columns) + 2) // 3) or (n == 1 and cells[0] == mine[0] and heading_like(mine[0])
                                                      and columns[0].kind not in ("category", "title")):
            return Row(heading=mine[0].replace("\n", ""))
    return Row(cells=cells)


# ---------------------------------------------------------------- cells into units, deadlines, targets

def unit_cell(text: str, known: set[str] | None, marker: str | None) -> str:
    """A unit cell as one list: line breaks become separators (or are joined inside a name
    that wrapped), and names carrying the column's marker get the ``(牵头)`` mark."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    out = ""
    for line in lines:
        if not out:
            out = line
            continue
        last = re.split(r"[、,;]", out)[-1].strip()
        first = re.split(r"[、,;]", line)[0].strip()
        if out[-1] in "、,;" or line[0] in "、,;":
            out += line
        elif known and last not in known and last + first in known:
            out += line
        elif (known and last in known) or _ORG_TAIL.search(last) or last.endswith("等") or (marker and line.startswith(marker)):
            out += "、" + line
        else:
            out += line
    if marker and marker != _LEAD_SUFFIX and marker in out:
        parts = []
        for piece, sep in split_top_sep(out, "、,;"):
            if marker in piece:
                piece = piece.replace(marker, "").strip() + _LEAD_SUFFIX
            parts.append(piece + sep)
        out = "".join(parts)
    return out


_ISO = re.compile(r"((?:19|20)\d{2})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})日?")
_MONTH_ONLY = re.compile(r"^((?:(?:19|20)\d{2})年)?(\d{1,2})月(前|份)?$")


def deadline_cell(text: str) -> str:
    s = _ISO.sub(lambda m: f"{m.group(1)}年{int(m.group(2))}月{int(m.group(3))}日", text)
    lines = []
    for line in s.split("\n"):
        m = _MONTH_ONLY.match(line.strip())
        lines.append(f"{m.group(1) or ''}{m.group(2)}月底{'前' if m.group(3) == '前' else ''}" if m else line)
    return "\n".join(lines)


def cell_deadlines(texts: list[str], doc_date: str | None) -> list[Deadline]:
    out: list[Deadline] = []
    seen: set[tuple] = set()
    for text in texts:
        found = extract_deadlines(deadline_cell(text), doc_date)
        if not found:
            phrase = text.replace("\n", " ")
            found = [Deadline(phrase, None, None, None, False, phrase)]
        for d in found:
            key = (d.date, d.recurring, d.month_day, d.phrase if d.date is None and d.month_day is None else None)
            if key not in seen:
                seen.add(key)
                out.append(d)
    return out


_CMP_WORDS = (
    (">=", "≥ ≧ >= => 不得低于 不低于 不少于 至少"), ("<=", "≤ ≦ <= =< 不得超过 不超过 不高于 不多于 控制在"),
    (">", "> 高于 超过 大于 多于"), ("<", "< 低于 少于 小于"), ("=", "= 达到 达 约 为"),
)
_CMP = {w: cmp for cmp, words in _CMP_WORDS for w in words.split()}
_VALUE = re.compile(
    r"^(?P<pre>" + "|".join(sorted(map(re.escape, _CMP), key=len, reverse=True)) + r")?\s*"
    rf"(?P<num>[-+]?\d+(?:\.\d+)?)\s*(?P<unit>{_UNIT}|万|亿|千)?\s*(?P<suf>及以上|以上|以下|以内|之内|左右)?$"
)
_SUFFIX_CMP = {"及以上": ">=", "以上": ">=", "以下": "<=", "以内": "<=", "之内": "<=", "左右": "="}


def cell_target(text: str, indicator: str, unit: str | None, year: int | None) -> list[Target]:
    """``≥2%``, ``0.07`` (unit from the 单位 column), ``良好以上`` (qualitative); longer cells as sentences."""
    s = text.replace("\n", "").replace(",", "")
    m = _VALUE.match(s)
    if m:
        num = m.group("num")
        value: float | int = float(num) if "." in num else int(num)
        written = m.group("unit")
        if written in ("万", "亿", "千"):
            written += unit or ""
        cmp = _CMP[m.group("pre")] if m.group("pre") else _SUFFIX_CMP.get(m.group("suf") or "", "=")
        return [Target(indicator, year, cmp, value, written or unit or None, text, False, None)]
    if len(s) <= 20 and "。" not in s:
        return [Target(indicator, year, "qualitative", None, unit or None, text, False, None)]
    return extract_targets(text, year)


# ---------------------------------------------------------------- rows into measures

_CN = "零一二三四五六七八九"


def cn_number(n: int) -> str:
    if n < 10:
        return _CN[n]
    tens, ones = divmod(n, 10)
    return (_CN[tens] if tens > 1 else "") + "十" + (_CN[ones] if ones else "")


def _ref_value(text: str) -> str:
    return re.sub(r"\s+", "", text).rstrip("、.．")


@dataclass
class _Refs:
    """Ref parts of heading rows and category cells, numbered in order of appearance when unnumbered."""

    sections: list[Section] = field(default_factory=list)
    _index: dict[tuple[str, ...], Section] = field(default_factory=dict)
    _seen: dict[tuple[tuple[str, ...], str], str] = field(default_factory=dict)
    _count: dict[tuple[str, ...], int] = field(default_factory=dict)

    def part(self, parent: tuple[str, ...], value: str) -> tuple[str, ...]:
        key = (parent, value)
        if key not in self._seen:
            found = match_marker(value)
            if found and found[0] in ("chapter", "cn", "pcn", "num", "pnum", "article"):
                part, number, heading = found[3], found[2], found[4]
            else:
                self._count[parent] = self._count.get(parent, 0) + 1
                part, number, heading = cn_number(self._count[parent]), "", value
            self._seen[key] = part
            path = (*parent, part)
            section = Section(".".join(path), number, split_heading(heading)[0], "")
            (self._index[parent].children if parent in self._index else self.sections).append(section)
            self._index[path] = section
        return (*parent, self._seen[key])


@dataclass
class _Context:
    known: set[str] | None
    doc_date: str | None
    year: int | None
    doc_marker: str | None


def build_measures(tables: list[Table], ctx: _Context) -> tuple[list[Measure], list[Section]]:
    refs = _Refs()
    measures: list[Measure] = []
    used: dict[str, int] = {}
    unnumbered: dict[tuple[str, ...], int] = {}
    for table in tables:
        cols = table.columns
        heading: tuple[str, ...] = ()
        last_category: dict[int, str] = {}
        for row in table.rows:
            if row.heading is not None:
                heading = refs.part((), row.heading)
                last_category = {}
                continue
            cells = row.cells or []
            path = heading
            for i, col in enumerate(cols):
                if col.kind == "category":
                    value = cells[i].replace("\n", "") or last_category.get(i, "")
                    last_category[i] = value
                    if value:
                        path = refs.part(path, value)
            measure = _measure(cols, cells, path, ctx)
            if measure is None:
                continue
            if not measure.ref:
                unnumbered[path] = unnumbered.get(path, 0) + 1
                measure.ref = ".".join(path) + f"#{unnumbered[path]}"
            if measure.ref in used:
                used[measure.ref] += 1
                measure.ref += f"#{used[measure.ref]}"
            used.setdefault(measure.ref, 1)
            measures.append(measure)
    return measures, refs.sections


def _measure(cols: list[Column], cells: list[str], path: tuple[str, ...], ctx: _Context) -> Measure | None:
    def texts(kind: str) -> list[tuple[Column, str]]:
        return [(c, v) for c, v in zip(cols, cells, strict=False) if c.kind == kind and v]

    titles = [v.replace("\n", "") for _, v in texts("title")]
    body = [v for _, v in texts("text")]
    indicators = [v.replace("\n", "") for _, v in texts("indicator")]
    lead_cells = [unit_cell(v, ctx.known, c.marker) for c, v in texts("lead")]
    resp_cells = [unit_cell(v, ctx.known, c.marker or ctx.doc_marker) for c, v in texts("responsible")]
    assessing = [n for c, v in texts("assessing") for n in split_unit_list(unit_cell(v, ctx.known, None), ctx.known)[0]]
    if not (titles or body or indicators):
        return None
    if not (lead_cells or resp_cells or assessing or texts("ref") or texts("target") or texts("deadline")):
        return None
    unit = next((v.replace("\n", "") for _, v in texts("unit")), None)
    indicator = indicators[0] if indicators else titles[0] if titles else ""
    detail = [f"{c.name}:{v}" for c, v in zip(cols, cells, strict=False) if v and c.kind in ("indicator", "unit", "target", "other")]
    text = "\n".join(body) or ";".join(detail) or "\n".join(titles)
    title = titles[0] if titles else indicator or split_heading(text.split("\n", 1)[0])[0]
    targets: list[Target] = []
    for col, value in texts("target"):
        found = cell_target(value, indicator, unit, col.year or ctx.year)
        targets += found
    if not texts("target"):
        targets = extract_targets("\n".join(body), ctx.year) if body else []
    deadline_texts = [v for _, v in texts("deadline")]
    deadlines = cell_deadlines(deadline_texts, ctx.doc_date) if deadline_texts else extract_deadlines("\n".join(body), ctx.doc_date)
    ann = Annotation(0, 0, "", lead_text=lead_cells, resp_text=resp_cells)
    units = resolve_units(ann, None, ctx.known)
    raw = ";".join(
        f"{c.name}:{unit_cell(v, ctx.known, None) if c.kind in UNIT_KINDS else v.replace(chr(10), ' ')}"
        for c, v in zip(cols, cells, strict=False) if v and c.kind in (*UNIT_KINDS, "deadline")
    )
    refs = [_ref_value(v) for _, v in texts("ref")]
    ref = ".".join([*path, refs[0]]) if refs and refs[0] else ""
    return Measure(
        ref=ref, title=title, text=text,
        lead_units=units.lead, responsible_units=units.responsible, lead_inferred=units.lead_inferred,
        and_others=units.and_others, raw_annotation=raw, targets=targets, deadlines=deadlines,
        assessing_units=assessing,
    )


# ---------------------------------------------------------------- the document around the tables

_TABLE_TITLE = re.compile(r"(?:表|清单|分工|方案|计划|任务|要点|台账|目录|安排)(?:\([^()]*\))?$")
_SINGLE_YEAR = re.compile(r"(?<![\d\-—~])((?:19|20)\d{2})\s*年")


def _title(lines: list[str]) -> str | None:
    cands = [
        line for line in lines
        if line and len(line) <= 80 and "。" not in line and not _ANNEX.match(line) and not is_footer(line)
        and not re.match(r"^[\d\s年月日\-./]+$", line)
    ]
    best = next((line for line in cands if _TABLE_TITLE.search(line)), None)
    return best or (cands[0] if cands else None)


def build_document(tables: list[Table], before: list[str], after: list[str], known_units: set[str] | None = None) -> Document:
    before = [normalize_cell(line).replace("\n", " ") for line in before]
    after = [normalize_cell(line).replace("\n", " ") for line in after]
    title = _title([line for line in before if line])
    lines = [line for line in before + after if line]
    issuer, date = find_issuer_and_date(lines, {}, title)
    years = set(_SINGLE_YEAR.findall(title or ""))
    year = int(years.pop()) if len(years) == 1 else int(date[:4]) if date else None
    marker = next((m for m in map(note_marker, lines) if m), None)
    known = {fold(k) for k in known_units} if known_units else None
    ctx = _Context(known, date or (f"{year}-01-01" if year else None), year, marker)
    measures, sections = build_measures(tables, ctx)
    if not measures:
        raise ParseError("表格中没有找到任务行 (no task rows under the table header)")
    return Document(title=title, issuer=issuer, date=date, targets=[], measures=measures, sections=sections)


def table_from_grid(cells: list[list[str]], own: list[list[bool]], scan: int = 12) -> tuple[Table | None, list[str]]:
    """The task table in a grid (header found among its first rows) and the text of the rows above it."""
    for h, row in enumerate(cells[:scan]):
        columns = header_columns(row)
        if columns is None:
            continue
        start = h + 1
        if start < len(cells):
            refined = merge_header(columns, cells[start])
            if refined is not None:
                columns, start = refined, start + 1
        above: list[str] = []
        for r in cells[:h]:
            for text in r:
                text = normalize_cell(text).replace("\n", " ")
                if text and text not in above:
                    above.append(text)
        table = Table(columns)
        extend_table(table, cells[start:], own[start:])
        return table, above
    return None, []


def extend_table(table: Table, cells: list[list[str]], own: list[list[bool]]) -> list[str]:
    """Rows appended to ``table``; footer notes (注:…) are returned, not read as rows."""
    notes = []
    for row_cells, row_own in zip(cells, own, strict=True):
        first = next((normalize_cell(c) for c in row_cells if normalize_cell(c)), "")
        if first and is_footer(first):
            notes.append(first)
            continue
        row = classify_row(row_cells, row_own, table.columns)
        if row is not None:
            table.rows.append(row)
    return notes


# ---------------------------------------------------------------- Word

def read_docx(data: bytes, known_units: set[str] | None = None) -> Document | None:
    """The document when its measures are in Word tables with a task header, else None."""
    try:
        from docx import Document as DocxDocument
        from docx.table import Table as DocxTable
        from docx.text.paragraph import Paragraph

        doc = DocxDocument(io.BytesIO(data))
    except Exception as exc:  # python-docx raises assorted zip/xml/key errors on damaged files
        raise ParseError(f"无法读取 Word 文档 (unreadable .docx): {type(exc).__name__}") from exc
    tables: list[Table] = []
    headings: list[str | None] = []  # the heading paragraph (二、就业帮扶) just above each table
    before: list[str] = []
    after: list[str] = []
    last = ""
    for child in doc.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            text = Paragraph(child, doc).text
            (after if tables else before).append(text)
            last = normalize_cell(text) or last
        elif tag == "tbl":
            cells, own = _docx_grid(DocxTable(child, doc))
            table, above = table_from_grid(cells, own)
            if table is not None:
                tables.append(table)
                headings.append(last if heading_like(last) else None)
                (after if len(tables) > 1 else before).extend(above)
            elif tables and cells and len(cells[0]) == len(tables[-1].columns):
                after.extend(extend_table(tables[-1], cells, own))  # a table continued after a page break
            else:
                (after if tables else before).extend(" ".join(dict.fromkeys(c for c in r if c)) for r in cells)
            last = ""
    if not tables:
        return None
    if len(tables) > 1:
        for table, heading in zip(tables, headings, strict=True):
            if heading and not (table.rows and table.rows[0].heading is not None):
                table.rows.insert(0, Row(heading=heading))
    return build_document(tables, before, after, known_units)


def _docx_grid(table) -> tuple[list[list[str]], list[list[bool]]]:
    cells: list[list[str]] = []
    own: list[list[bool]] = []
    above: list = []
    for row in table.rows:
        row_cells = row.cells
        tcs = [cell._tc for cell in row_cells]
        cells.append([cell.text for cell in row_cells])
        own.append([k >= len(above) or tc is not above[k] for k, tc in enumerate(tcs)])
        above = tcs
    return cells, own
