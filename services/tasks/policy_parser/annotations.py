"""Unit annotations (牵头单位 / 责任单位 …) and unit-list splitting.

Documents mark who does a measure in several layouts: ``(牵头单位:…;责任单位:…)``
inline, ``〔责任单位:…〕``, ``【…】``, own lines after the measure, or
``(市发改委牵头,市财政局配合)``. A note such as ``(逗号前的单位为牵头单位,下同)``
defines which listed unit leads, for that measure and, with 下同, the following ones.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from .clean import fold
from .text import split_top_sep

_LEAD_WORDS = "牵头|主责|主办|主要牵头"
_RESP_WORDS = "责任|配合|协办|协助|参与|负责|承办"
LABEL_UNIT = rf"(?:{_LEAD_WORDS}|{_RESP_WORDS})(?:单位|部门|处室|科室)"
_LABEL_OTHER = r"(?:牵头|责任|分管|联系)领导|责任人|完成时限|完成时间|时间节点|时限要求|办结时限|完成期限|时间要求"
_LABEL = re.compile(rf"({LABEL_UNIT}|{_LABEL_OTHER})\s*(:)?\s*")
_OPEN = "(〔【["
_OPEN_RE = re.compile(r"[(〔【\[]")
_BRACKET_RE = re.compile(r"[(〔【\[)〕】\]\n]")
_MAX_OPEN = 2000
_BRACKET_START = re.compile(rf"[(〔【\[]\s*(?=(?:注\s*:?\s*)?(?:{LABEL_UNIT}|{_LABEL_OTHER}))")
_LINE_LABEL = re.compile(rf"(?:^|(?<=[。;!?\n]))\s*(?=(?:{LABEL_UNIT}|{_LABEL_OTHER})\s*:)")
_LABEL_ONLY = re.compile(rf"^\s*(?:{LABEL_UNIT}|{_LABEL_OTHER})\s*:?\s*$")
_BRACKETED_LABEL = re.compile(rf"[【\[(〔]\s*({LABEL_UNIT}|{_LABEL_OTHER})\s*:?\s*[】\])〕]\s*")
_CONV = re.compile(
    r"(?:逗号|分号|顿号)(?:之|以)?前"
    r"|(?:排名|排序|排在|列在|列于|位列|位于|列)?(?:第一|首位|首个|第1|最前)(?:位|个)?的?(?:单位|部门)?(?:为|是)牵头"
    r"|牵头(?:单位|部门)?(?:排在|列在|列于|列|为|是)(?:第一|首位|首个|最前)"
)
_PERSIST = re.compile(r"下同|以下同|后同|同下|以下各项|以下任务")
_NOTE_SEGMENT = re.compile(
    r"下同|后同|同下|为牵头|是牵头|牵头单位为|牵头部门为|排名第一|排在第一|排在首位|列第一|列首位|逗号前|分号前|顿号前"
    r"|\d+\s*[月日]|年底|年内|报送|上报|完成|之前"
)
_DUTY_SUFFIX = re.compile(r"(?:按照?|根据)?(?:各自)?(?:职责|职能)(?:分工)?(?:负责|落实)?$|分别负责$|各负其责$")
_LEAD_MARK = re.compile(r"[(〔【\[]\s*(?:牵头|牵头单位|主责|主责单位)\s*[)〕】\]]$")
_AND_OTHERS = re.compile(r"等(?:有关|相关)?(?:部门|单位|成员单位|市直部门|县直部门)?$")
_ORG_END = re.compile(r"(局|委|办|部|厅|院|会|府|中心|公司|行|社|联|队|所|站|处|科|组|室|团|馆|署|县|市|区|镇|乡|村|街道|机构|部门|单位)$")
_STYLE_SEGMENT = re.compile(r"^(.+?)(牵头|配合|参与|协助|负责|落实)$")


def split_unit_list(s: str, known_units: set[str] | None = None) -> tuple[list[str], bool]:
    """Split a unit list on 、 , ; (full- or half-width) outside brackets and quotes.

    ``各乡镇党委、政府`` stays one group name; a trailing ``等`` is removed and
    reported as ``and_others``; instruction notes (``下同``…) are dropped. With
    ``known_units``, a name that is not known but is two or more known names
    written together (``县财政局县民政局``, a table cell whose line break was lost)
    is split into them; without it such names stay whole.
    """
    names: list[str] = []
    and_others = False
    merged: list[str] = []
    for piece, sep in split_top_sep(fold(s), "、,;。"):
        piece = piece.strip().strip("。.:").strip()
        if merged and merged[-1].endswith(("党委、", "党委,", "党委;")) and piece in ("政府", "人民政府"):
            merged[-1] += piece
            continue
        merged.append(piece + sep if piece.endswith("党委") else piece)
    for name in merged:
        name = name.rstrip("、,;").strip()
        name = _DUTY_SUFFIX.sub("", name).strip()
        if not name or _NOTE_SEGMENT.search(name):
            continue
        stripped = _AND_OTHERS.sub("", name).strip()
        if stripped != name:
            and_others = True
            name = stripped
        if name:
            names += _split_glued(name, known_units) if known_units else [name]
    return names, and_others


def _split_glued(name: str, known: set[str]) -> list[str]:
    """``name`` as a run of known names (fewest pieces), or ``[name]`` when it is known or no such run exists."""
    if name in known or len(name) > 200:
        return [name]
    best: list[list[str] | None] = [None] * (len(name) + 1)
    best[0] = []
    for end in range(1, len(name) + 1):
        for start in range(end):
            prev = best[start]
            if prev is not None and name[start:end] in known and (best[end] is None or len(prev) + 1 < len(best[end])):
                best[end] = [*prev, name[start:end]]
    found = best[len(name)]
    return found if found and len(found) > 1 else [name]


@dataclass
class Annotation:
    """One unit annotation as found in the text; ``start``/``end`` index the passage text."""

    start: int
    end: int
    raw: str
    lead_text: list[str] = field(default_factory=list)
    resp_text: list[str] = field(default_factory=list)
    convention: str | None = None
    persistent: bool = False

    @property
    def has_units(self) -> bool:
        return bool(self.lead_text or self.resp_text)


def _convention(text: str) -> tuple[str | None, bool]:
    m = _CONV.search(text)
    if not m or "牵头" not in text:
        return None, False
    word = m.group(0)
    rule = "comma" if "逗号" in word else "semicolon" if "分号" in word else "first"
    return rule, bool(_PERSIST.search(text))


def _bracket_ends(text: str) -> dict[int, int]:
    """End (exclusive) of every bracket closed on its own line, found in one pass."""
    ends: dict[int, int] = {}
    stack: list[int] = []
    for m in _BRACKET_RE.finditer(text):
        ch, i = m.group(), m.start()
        if ch == "\n":
            stack.clear()
        elif ch in _OPEN:
            stack.append(i)
        elif stack:
            ends[stack.pop()] = i + 1
    return ends


def _parse_content(content: str, ann: Annotation) -> None:
    labels = [m for m in _LABEL.finditer(content) if m.start() == 0 or m.group(2)]
    for k, m in enumerate(labels):
        end = labels[k + 1].start() if k + 1 < len(labels) else len(content)
        part = content[m.end() : end].strip(" ;,。\n")
        label = m.group(1)
        if re.search(LABEL_UNIT, label):
            (ann.lead_text if re.match(rf"(?:{_LEAD_WORDS})", label) else ann.resp_text).append(part)
    if not labels:
        _parse_style(content, ann)
    ann.convention, ann.persistent = _convention(content)


def _parse_style(content: str, ann: Annotation) -> None:
    """``市发改委牵头,市财政局、市自然资源局配合``: verbs after the names."""
    if "牵头" not in content:
        return
    lead, resp = [], []
    for piece, _ in split_top_sep(content, ",;"):
        m = _STYLE_SEGMENT.match(piece.strip())
        if not m:
            return
        names, _ = split_unit_list(m.group(1))
        if not names or not all(_ORG_END.search(n) for n in names):
            return
        (lead if m.group(2) == "牵头" else resp).append(m.group(1))
    if lead:
        ann.lead_text, ann.resp_text = lead, resp


def find_annotations(text: str) -> list[Annotation]:
    """All annotations in a passage, adjacent pieces (own lines, a trailing note) merged."""
    found: list[Annotation] = []
    ends = _bracket_ends(text)
    pos = 0
    while True:
        m = _OPEN_RE.search(text, pos)
        if not m:
            break
        i = m.start()
        if i not in ends and not _BRACKET_START.match(text, i):
            pos = i + 1
            continue
        j = ends.get(i) or min(_line_end(text, i), i + _MAX_OPEN)
        inner = text[i + 1 : j - 1 if i in ends else j]
        ann = Annotation(i, j, text[i:j])
        if _BRACKET_START.match(text, i) and _LABEL_ONLY.match(inner):
            j = _line_end(text, i)
            ann = Annotation(i, j, text[i:j])
            _parse_content(_BRACKETED_LABEL.sub(r"\1:", text[i:j]).strip(), ann)
        elif _BRACKET_START.match(text, i):
            _parse_content(inner.strip(), ann)
        elif "牵头" in inner:
            _parse_content(inner.strip(), ann)
            if not ann.has_units and ann.convention is None:
                pos = i + 1
                continue
        else:
            pos = i + 1
            continue
        found.append(ann)
        pos = j
    found.extend(_line_annotations(text, found))
    found.sort(key=lambda a: a.start)
    return _merge_adjacent(text, found)


def _line_annotations(text: str, taken: list[Annotation]) -> list[Annotation]:
    out: list[Annotation] = []
    spans = sorted((a.start, a.end) for a in taken)
    for m in _LINE_LABEL.finditer(text):
        start = m.end()
        k = bisect.bisect_right(spans, (start, len(text) + 1))
        if (k and spans[k - 1][1] > start) or (out and out[-1].end > start):
            continue
        end = _line_end(text, start)
        stop = text.find("。", start, end)
        end = stop + 1 if stop >= 0 else end
        ann = Annotation(start, end, text[start:end])
        _parse_content(text[start:end].strip(), ann)
        out.append(ann)
    return out


def _line_end(text: str, start: int) -> int:
    end = text.find("\n", start)
    return len(text) if end < 0 else end


def _merge_adjacent(text: str, anns: list[Annotation]) -> list[Annotation]:
    merged: list[Annotation] = []
    for ann in anns:
        prev = merged[-1] if merged else None
        if prev and not text[prev.end : ann.start].strip(" \n;,。"):
            prev.raw = text[prev.start : ann.end].strip()
            prev.end = ann.end
            prev.lead_text += ann.lead_text
            prev.resp_text += ann.resp_text
            if ann.convention:
                prev.convention, prev.persistent = ann.convention, ann.persistent
        else:
            merged.append(ann)
    return merged


def note_convention(text: str) -> tuple[str | None, bool]:
    """A document-level note such as ``注:责任单位排在第一位的为牵头单位``."""
    for sentence in re.split(r"[。\n]", text):
        if len(sentence) < 80 and "牵头" in sentence:
            rule, _ = _convention(sentence)
            if rule:
                return rule, True
    return None, False


@dataclass
class Units:
    lead: list[str]
    responsible: list[str]
    lead_inferred: bool
    and_others: bool


def resolve_units(ann: Annotation, convention: str | None, known_units: set[str] | None = None) -> Units:
    """Apply the documented lead rule; without one the first listed unit is the inferred lead."""
    and_others = False
    lead: list[str] = []
    for part in ann.lead_text:
        names, more = split_unit_list(_strip_notes(part), known_units)
        lead += names
        and_others |= more
    responsible: list[str] = []
    marked: list[str] = []
    for part in ann.resp_text:
        names, more = split_unit_list(_strip_notes(part), known_units)
        and_others |= more
        for name in names:
            mark = _LEAD_MARK.search(name)
            if mark:
                name = name[: mark.start()].strip()
                marked.append(name)
            responsible.append(name)
    if lead:
        return Units(lead, responsible, False, and_others)
    if marked:
        return Units(marked, responsible, False, and_others)
    if convention and ann.resp_text:
        first = _strip_notes(ann.resp_text[0])
        if convention == "first":
            head = responsible[:1]
        else:
            sep = "," if convention == "comma" else ";"
            head, _ = split_unit_list(split_top_sep(first, sep)[0][0], known_units)
        return Units(head, responsible, False, and_others)
    return Units(responsible[:1], responsible, bool(responsible), and_others)


def _strip_notes(part: str) -> str:
    return re.sub(r"[(〔【\[][^()〔〕【】\[\]]*?(?:下同|为牵头|是牵头|逗号|分号|排名|排在|列第)[^()〔〕【】\[\]]*?[)〕】\]]", "", part)
