"""Build the section tree from the document's own numbering.

A kind already open on the stack closes back to its level; a new kind nests
under the open node unless it is conventionally higher (一、 > (一) > 1. > (1) > ①),
so documents that skip a level, or number ``(一)…(二十八)`` / ``1.…17.``
continuously across chapters, keep their shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN = "零〇一二三四五六七八九十百两"
_NUM_TAIL = r"(?!\d*(?:%|万|亿|元|倍|个|亩|吨|人|户))"

MARKERS: list[tuple[str, re.Pattern[str]]] = [
    ("chapter", re.compile(rf"^第([{_CN}]+|\d+)(部分|章|篇|节)[\s、.:]*")),
    ("article", re.compile(rf"^第([{_CN}]+|\d+)条\s*")),
    ("cn", re.compile(rf"^([{_CN}]+)\s*[、.]\s*")),
    ("pcn", re.compile(rf"^\(\s*([{_CN}]+)\s*\)[、.]?\s*")),
    ("num", re.compile(rf"^(\d{{1,3}})\s*[、.]{_NUM_TAIL}\s*")),
    ("pnum", re.compile(r"^(?:\(\s*(\d{1,3})\s*\)|(\d{1,3})\))[、.]?\s*")),
    ("circ", re.compile(r"^([①-⑳])\s*")),
]
_RANK = {kind: rank for rank, (kind, _) in enumerate(MARKERS)}
_RANK["article"] = _RANK["cn"]
_DOC_KIND = re.compile(
    r"(方案|计划|要点|意见|办法|通知|措施|规划|细则|规定|决定|纲要|清单|安排|说明|报告|制度|条例|指引|指南|公告|通报|"
    r"批复|分工|分解表|任务表|责任表|决议|方略|工程|行动)$"
)


def cn_to_int(s: str) -> int:
    """Chinese numeral (up to 九百九十九) or ASCII digits to int."""
    if s.isascii() and s.isdigit():
        return int(s)
    if len(s) == 1 and "①" <= s <= "⑳":
        return ord(s) - ord("①") + 1
    total, current = 0, 0
    for ch in s:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = current * 10 + _CN_DIGITS[ch]
    return total + current


@dataclass
class Node:
    kind: str
    n: int
    marker: str
    part: str
    start: int
    lines: list[str] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    parent: Node | None = None
    ref: str = ""

    @property
    def heading(self) -> str:
        return split_heading(self.lines[0] if self.lines else "")[0] if self.kind != "root" else ""

    @property
    def body(self) -> str:
        """The node's own text after its heading (children excluded)."""
        if self.kind == "root":
            return "\n".join(self.lines)
        rest = split_heading(self.lines[0])[1] if self.lines else ""
        return "\n".join([x for x in [rest, *self.lines[1:]] if x])

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


def split_heading(line: str) -> tuple[str, str]:
    """The heading is the first sentence (up to 。/!/?) of a node's first line."""
    m = re.search(r"[。!?]", line)
    if m is None:
        return line.rstrip(":").strip(), ""
    return line[: m.start()].rstrip(":").strip(), line[m.end():].strip()


def match_marker(line: str) -> tuple[str, int, str, str, str] | None:
    """(kind, number, marker as written, ref part, rest of line) for a numbered line."""
    for kind, rx in MARKERS:
        m = rx.match(line)
        if not m or m.end() >= len(line):
            continue
        raw = next(g for g in m.groups() if g)
        n = cn_to_int(raw)
        if n <= 0:
            continue
        marker = line[: m.end()].strip()
        part = {"cn": raw, "num": raw, "pcn": f"({raw})", "pnum": f"({raw})"}.get(kind, marker)
        return kind, n, marker, part, line[m.end():].strip()
    return None


def is_title_line(line: str) -> bool:
    if len(line) > 80 or "。" in line or "," in line or line.endswith((":", ";", "、")):
        return False
    core = re.sub(r"(\([^()]*\)|〔[^〔〕]*〕)+$", "", line).strip()
    return bool(core) and bool(_DOC_KIND.search(core)) and match_marker(line) is None


def build_tree(lines: list[str]) -> Node:
    root = Node("root", 0, "", "", -1)
    stack: list[Node] = []
    last_seen: dict[str, int] = {}
    outer_kind: str | None = None
    for idx, line in enumerate(lines):
        found = match_marker(line)
        if found and _accept(found[0], found[1], found[4], last_seen, stack):
            kind, n, marker, part, rest = found
            if kind == outer_kind and n == 1 and last_seen.get(kind, 0) > 1 and stack:
                _detach_new_part(stack[-1], root)
            if any(s.kind == kind for s in stack):
                while stack.pop().kind != kind:
                    pass
            while stack and _RANK[stack[-1].kind] > _RANK[kind]:
                stack.pop()
            parent = stack[-1] if stack else root
            outer_kind = outer_kind or kind
            node = Node(kind, n, marker, part, idx, [rest])
            node.parent = parent
            node.ref = f"{parent.ref}.{part}" if parent.ref else part
            parent.children.append(node)
            stack.append(node)
            last_seen[kind] = n
        else:
            (stack[-1] if stack else root).lines.append(line)
    return root


def _accept(kind: str, n: int, rest: str, last_seen: dict[str, int], stack: list[Node]) -> bool:
    """A marker counts when it starts a list or continues its kind's last number; a short
    heading may also skip a number or repeat one (documents do both by mistake)."""
    last = last_seen.get(kind)
    if n == 1 or last is None or last == n - 1 or any(s.kind == kind and s.n == n - 1 for s in stack):
        return True
    return last <= n <= last + 3 and len(split_heading(rest)[0]) <= 30


def _detach_new_part(node: Node, root: Node) -> None:
    """Numbering restarts under a new title (e.g. a drafting note followed by the plan itself):
    the title block belongs to the document preamble, not to the previous section."""
    for i, line in enumerate(node.lines[1:], start=1):
        if is_title_line(line):
            root.lines.extend(node.lines[i:])
            del node.lines[i:]
            return
