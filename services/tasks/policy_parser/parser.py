"""Assemble a ``Document``: clean → section tree → annotated passages → measures.

Tables go to the table readers instead (``parse_bytes``: .xlsx always, .docx when a
table has a task header; ``parse_text``: a header of column names on consecutive
lines or between ``|``), which build the same ``Document``.

A measure is any passage that carries a unit annotation. A numbered item with
one annotation is one measure (its whole text); with several annotations the
item is cut at each of them (``二.(一)#2``), and unnumbered documents are cut
per paragraph (``#1``, ``#2`` …).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .annotations import Annotation, find_annotations, note_convention, resolve_units
from .clean import clean, fold
from .deadlines import extract_deadlines
from .header import find_issuer_and_date, find_title
from .model import Document, Measure, ParseError, Section, Target
from .reader import read_bytes, read_file, table_file_kind
from .structure import Node, build_tree, split_heading
from .tables import read_docx
from .tables_text import read_text_table
from .tables_xlsx import read_xlsx
from .targets import extract_targets

_GOALS = re.compile(r"目标")
_NOT_GOALS = re.compile(r"考核|管理|责任|评价|督查|督导|监督|保障")
_YEARS = re.compile(r"(?<![\d\-—~])((?:19|20)\d{2})\s*年")
NO_ANNOTATIONS = "文档中没有找到任何带有牵头单位/责任单位标注的措施 (no unit annotations found)"


@dataclass
class _Passage:
    node: Node
    ref: str
    title: str
    text: str
    ann: Annotation


def parse_path(path: str | Path, known_units: set[str] | None = None) -> Document:
    return parse_bytes(read_file(path), Path(path).name, known_units)


def parse_bytes(data: bytes, filename: str = "", known_units: set[str] | None = None) -> Document:
    """Excel → the table reader; Word → the table reader when its measures are in a task
    table, else its text; text and web pages → ``parse_text``."""
    kind = table_file_kind(data, filename)
    if kind == "xlsx":
        return read_xlsx(data, known_units)
    if kind == "docx":
        doc = read_docx(data, known_units)
        if doc is not None:
            return doc
    return parse_text(read_bytes(data, filename), known_units)


def parse_text(text: str, known_units: set[str] | None = None) -> Document:
    """A task table pasted as text (header of known column names) → the table reader; else paragraphs.

    ``known_units`` (unit names of the region) lets unit lists split names written
    together without a separator; without it they stay whole."""
    if not isinstance(text, str):
        raise ParseError("输入不是文本 (input is not text)")
    table = read_text_table(text, known_units)
    if table is not None:
        return table
    known = {fold(k) for k in known_units} if known_units else None
    cleaned = clean(text)
    lines = cleaned.lines
    if not lines:
        raise ParseError("文档内容为空 (empty document)")
    root = build_tree(lines)
    passages, notes = _passages(root)
    if not passages:
        raise ParseError(NO_ANNOTATIONS)
    title = find_title(lines, _chapter_start(passages[0].node, len(lines)))
    issuer, date = find_issuer_and_date(lines, cleaned.meta, title)
    title_year = _single_year(title or "")
    convention = next((a.convention for a in notes if a.convention), None) or _line_convention(lines)
    measures = []
    for p in passages:
        rule = p.ann.convention or convention
        if p.ann.convention and p.ann.persistent:
            convention = p.ann.convention
        units = resolve_units(p.ann, rule, known)
        year = _heading_year(p.node) or title_year
        measures.append(Measure(
            ref=p.ref, title=p.title, text=p.text,
            lead_units=units.lead, responsible_units=units.responsible,
            lead_inferred=units.lead_inferred, and_others=units.and_others,
            raw_annotation=p.ann.raw,
            targets=extract_targets(p.text, year),
            deadlines=extract_deadlines(p.text + "\n" + p.ann.raw, date),
        ))
    measure_nodes = {id(p.node) for p in passages}
    return Document(
        title=title, issuer=issuer, date=date,
        targets=_goal_targets(root, measure_nodes, title_year),
        measures=measures,
        sections=[_section(n, date) for n in root.children],
    )


def _node_text(node: Node) -> str:
    return "\n".join(node.lines)


def _full_text(node: Node) -> str:
    """A node's text with its sub-items (markers included), for a measure that spans them."""
    parts = ["\n".join(node.lines)]
    parts += [c.marker + _full_text(c) for c in node.children]
    return "\n".join(p for p in parts if p)


def _passages(root: Node) -> tuple[list[_Passage], list[Annotation]]:
    found = {id(n): find_annotations(_node_text(n)) for n in root.walk()}
    units = {k: [a for a in anns if a.has_units] for k, anns in found.items()}
    notes = [a for anns in found.values() for a in anns if not a.has_units]
    passages: list[_Passage] = []
    lifted: set[int] = set()
    for node in root.walk():
        if id(node) in lifted:
            continue
        group = _group_annotation(node, units)
        if group is not None:
            lifted.add(id(node.children[-1]))
            text = _full_text(node)
            body = text.replace(group.raw, "", 1).strip(" \n")
            passages.append(_Passage(node, node.ref, node.heading, body, group))
            continue
        passages += _node_passages(node, _node_text(node), units[id(node)])
    return passages, notes


def _group_annotation(node: Node, units: dict[int, list[Annotation]]) -> Annotation | None:
    """``(一)… 1.… 2.…`` followed by one annotation on its own line under the last item:
    the annotation covers the whole group, not just the last item."""
    if node.kind == "root" or len(node.children) < 2 or units[id(node)]:
        return None
    last = node.children[-1]
    if last.children or any(units[id(n)] for c in node.children[:-1] for n in c.walk()):
        return None
    anns = units[id(last)]
    text = _node_text(last)
    if len(anns) != 1 or anns[0].start == 0 or text[anns[0].start - 1] != "\n" or text[anns[0].end :].strip():
        return None
    return anns[0]


def _node_passages(node: Node, text: str, unit_anns: list[Annotation]) -> list[_Passage]:
    passages = []
    prev_end = 0
    for k, ann in enumerate(unit_anns, start=1):
        start = prev_end if node.kind != "root" else _paragraph_start(text, ann.start, prev_end)
        body = text[start : ann.start].strip(" \n")
        if len(unit_anns) == 1 and node.kind != "root":
            body = "\n".join(x for x in (body, text[ann.end :].strip(" \n")) if x)
        prev_end = ann.end
        ref = f"#{k}" if node.kind == "root" else node.ref if len(unit_anns) == 1 else f"{node.ref}#{k}"
        title = split_heading(body.split("\n", 1)[0])[0] or node.heading
        passages.append(_Passage(node, ref, title, body, ann))
    return passages


def _paragraph_start(text: str, pos: int, floor: int) -> int:
    """Outside numbered sections a measure is the paragraph holding (or just above) its annotation."""
    newline = text.rfind("\n", floor, pos)
    start = newline + 1 if newline >= 0 else floor
    if not text[start:pos].strip():
        prev = text.rfind("\n", floor, max(start - 1, floor))
        start = prev + 1 if prev >= 0 else floor
    return max(start, floor)


def _chapter_start(node: Node, default: int) -> int:
    while node.parent is not None and node.parent.kind != "root":
        node = node.parent
    return node.start if node.kind != "root" else default


def _single_year(s: str) -> int | None:
    years = set(_YEARS.findall(s))
    return int(years.pop()) if len(years) == 1 and not re.search(r"\d{4}\s*[-—~至]\s*\d{4}", s) else None


def _heading_year(node: Node | None) -> int | None:
    while node is not None and node.kind != "root":
        year = _single_year(node.heading)
        if year:
            return year
        node = node.parent
    return None


def _line_convention(lines: list[str]) -> str | None:
    for line in lines:
        if "牵头" in line and not any(a.has_units for a in find_annotations(line)):
            rule, _ = note_convention(line)
            if rule:
                return rule
    return None


def _goal_targets(node: Node, measure_nodes: set[int], title_year: int | None) -> list[Target]:
    """Targets of the goals section(s) (工作目标, 增收目标 …), outer goal node only."""
    heading = node.heading
    if node.kind != "root" and len(heading) <= 16 and _GOALS.search(heading) and not _NOT_GOALS.search(heading):
        return [
            t
            for sub in node.walk()
            if id(sub) not in measure_nodes
            for t in extract_targets(sub.body, _heading_year(sub) or title_year)
        ]
    return [t for child in node.children for t in _goal_targets(child, measure_nodes, title_year)]


def _section(node: Node, doc_date: str | None) -> Section:
    return Section(
        ref=node.ref, number=node.marker, heading=node.heading, text=node.body,
        deadlines=extract_deadlines(node.body, doc_date),
        children=[_section(c, doc_date) for c in node.children],
    )
