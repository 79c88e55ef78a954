"""Task tables pasted as text: every cell on its own line, cells between lines
holding only ``|``, or rows as ``a | b | c`` lines (a web page through
``html_to_text``, a Word table through ``docx_to_text``).

The header is found by its column names — consecutive lines (or ``|``-separated)
that each name a known column — and fixes the number of columns. Row boundaries
are gone in the first two forms, and a cell merged over several rows (a category,
a lead unit) appears only in its first row, a cell written over several lines
spans several lines. So the lines are aligned with the columns by dynamic
programming: each line (or run of lines) is scored for how well it fits a column
(序号 is a small number, unit columns hold unit names, 完成时限 a date, 单位 a
measurement unit …), a column may be missing from a row (then a merged value is
carried down from the row above), and the best-scoring split into rows wins.
"""

from __future__ import annotations

import re

from .annotations import split_unit_list
from .clean import _JUNK, _TRUNCATION, fold
from .deadlines import extract_deadlines
from .header import _date_line
from .model import Document, ParseError
from .tables import (
    _ORG_TAIL,
    _VALUE,
    Column,
    Row,
    Table,
    build_document,
    column_of,
    deadline_cell,
    header_columns,
    heading_like,
    is_footer,
)
from .targets import _UNIT

_PIPE_ONLY = re.compile(r"^\|+$")
_NOTE_LINE = re.compile(r"^[(【\[〔].*[)】\]〕]$")
_INT = re.compile(r"^\d{1,3}[.、]?$")
_REF = re.compile(r"^(?:\(\d{1,3}\)|[一二三四五六七八九十]{1,3}|\d{1,3}(?:[.\-]\d{1,3}){1,2})$")
_UNIT_WORD = re.compile(rf"^(?:{_UNIT}|万元|万亩|万人|万户|亿元|%|‰)$")
_TIME_WORDS = re.compile(r"长期|持续|常态|按月|按季|按年|逐年|立即|全年|每年|每月|每季|年底|年内|月底|季度|上半年|下半年|前完成")
MAX_SPAN = {"title": 3, "text": 8, "indicator": 3, "other": 4, "category": 2, "lead": 4, "responsible": 4, "assessing": 4}
# A column missing from a row (merged from the row above, or an empty cell whose line was dropped).
# One unit cell where there are two columns goes to 责任单位: read as responsible, its first unit is
# still the (inferred) lead; read as lead, every unit would lead.
MISS = {"ref": -2.5, "category": -0.3, "title": -1.5, "text": -2.0, "indicator": -2.0, "lead": -1.0, "responsible": -1.2,
        "assessing": -1.0, "deadline": -1.0, "unit": -2.0, "target": -2.0, "other": -1.5}
CARRY = {"category", "title", "lead", "responsible", "assessing", "deadline"}
JOIN = {"line": -1.2, "join": 0.0, "row": -1.5}  # joining lines into one cell, by the break between them
# Multi-line text and responsible-unit cells are common; a lead or assessing cell usually holds one unit.
LINE_JOIN = {"text": -0.3, "responsible": -0.3, "lead": -0.8, "assessing": -0.8, "title": -1.5, "indicator": -1.5}
ODD_LINE = -2.0  # a line inside a multi-line text cell that looks like a cell of its own (a number, units, a date)
EMPTY = {"title": -0.5, "text": -0.5, "indicator": -0.5, "ref": -0.5}  # an explicitly empty cell
SPLIT_CELL, DROP, HEADING = -1.5, -4.0, 1.5
MAX_GROUPS_WITH_SPANS = 4000


def read_text_table(text: str, known_units: set[str] | None = None) -> Document | None:
    """The document when ``text`` holds a task table with a recognisable header, else None."""
    lines = [re.sub(r" {2,}", " ", line).strip() for line in re.split(r"\r\n|\r|\n|\u2028|\u2029|\x0b|\x0c", fold(text))]
    headers = _headers(lines)
    if not headers:
        return None
    known = {fold(k) for k in known_units} if known_units else None
    tables: list[Table] = []
    after: list[str] = []
    for k, (_, end, columns, mode) in enumerate(headers):
        stop = headers[k + 1][0] if k + 1 < len(headers) else len(lines)
        region, rest = _region(lines[end:stop], mode)
        after += rest
        rows = align(_groups(region, mode), columns, known)
        if tables and tables[-1].rows and tables[-1].rows[-1].heading is not None:
            rows.insert(0, tables[-1].rows.pop())  # a heading line just above the next header belongs to that table
        if tables and [c.name for c in tables[-1].columns] == [c.name for c in columns]:
            tables[-1].rows += rows
        else:
            tables.append(Table(columns, rows))
    before = [line for line in lines[: headers[0][0]] if line]
    if len(headers) > 1 and before and heading_like(before[-1]) and tables[0].rows[:1] != [Row(heading=before[-1])]:
        tables[0].rows.insert(0, Row(heading=before[-1]))
    if not any(t.rows for t in tables):
        return None
    try:
        return build_document(tables, lines[: headers[0][0]], after, known_units)
    except ParseError:
        return None


def _headers(lines: list[str]) -> list[tuple[int, int, list[Column], str]]:
    found = []
    i = 0
    while i < len(lines):
        line = lines[i]
        hit = None
        if line and len(line) <= 400 and ("|" in line or (len(line) <= 60 and column_of(line) is not None)):
            hit = _header_at(lines, i)
        if hit:
            found.append(hit)
            i = hit[1]
        else:
            i += 1
    return found


def _header_at(lines: list[str], i: int) -> tuple[int, int, list[Column], str] | None:
    line = lines[i]
    if "|" in line and not _PIPE_ONLY.match(line):
        cells = [c.strip() for c in line.strip("| ").split("|")]
        columns = header_columns(cells) if len(cells) >= 3 else None
        return (i, i + 1, columns, "inline") if columns else None
    names: list[str] = []
    pipes = False
    j = i
    while j < len(lines):
        line = lines[j]
        if not line:
            j += 1
            continue
        if _PIPE_ONLY.match(line):
            pipes = True
        elif names and _NOTE_LINE.match(line) and len(line) <= 60:
            names[-1] += line
        elif len(line) <= 60 and line not in names and column_of(line) is not None:
            names.append(line)
        else:
            break
        j += 1
    columns = header_columns(names) if len(names) >= 3 else None
    return (i, j, columns, "pipe" if pipes else "lines") if columns else None


def _region(lines: list[str], mode: str) -> tuple[list[str], list[str]]:
    """The table's lines, and what follows it (notes, signature, date). A date on its own line
    ends ``a | b`` rows; one cell per line it may be a 完成时限 cell, so it stays in the table."""
    kept: list[str] = []
    for k, line in enumerate(lines):
        if _TRUNCATION.search(line):
            return kept, []
        if is_footer(line) or (mode == "inline" and _date_line(line)):
            return kept, lines[k:]
        if line and len(line) < 80 and _JUNK.search(line):
            continue
        kept.append(line)
    return kept, []


def _groups(region: list[str], mode: str) -> list[tuple[str, str]]:
    """(text, boundary before it): ``pipe`` an explicit cell boundary, ``line`` a line break between
    cells or inside one, ``join`` a line break inside a ``|``-delimited cell, ``row`` a new ``a | b`` line.
    A blank line is an empty cell, unless blank lines separate every line."""
    pipe_lines = sum(1 for line in region if _PIPE_ONLY.match(line))
    content = sum(1 for line in region if line and not _PIPE_ONLY.match(line))
    if mode == "inline":
        groups = []
        for line in region:
            if not line or _PIPE_ONLY.match(line):
                continue
            pieces = [p.strip() for p in line.strip().strip("|").split("|")]
            boundary = "row" if "|" in line else "line"
            for k, piece in enumerate(pieces):
                groups.append((piece, boundary if k == 0 else "pipe"))
        return groups
    if mode == "lines" and pipe_lines * 3 < content:
        lines = [line for line in region if not _PIPE_ONLY.match(line)]
        while lines and not lines[-1]:
            lines.pop()
        if 2 * lines.count("") >= content:
            return _split_pipes([(line, "line") for line in lines if line])  # blank lines between all lines: spacing
        groups, after_blank = [], True
        for line in lines:
            groups.append((line, "pipe" if after_blank or not line else "line"))
            after_blank = not line
        return _split_pipes(groups)
    groups = []
    boundary, last_pipe = "pipe", False
    for line in region:
        if _PIPE_ONLY.match(line):
            if last_pipe:
                groups.append(("", "pipe"))
            boundary, last_pipe = "pipe", True
        elif line:
            groups.append((line, boundary))
            boundary, last_pipe = "join", False
    return _split_pipes(groups)


def _split_pipes(groups: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A line holding ``a | | b`` (a web page's last cells, run together) is cells with explicit boundaries."""
    out = []
    for text, boundary in groups:
        if "|" not in text:
            out.append((text, boundary))
            continue
        for k, piece in enumerate(text.strip("|").split("|")):
            out.append((piece.strip(), boundary if k == 0 else "pipe"))
    return out


class _Fit:
    """How well a run of lines fits each kind of column, computed once per (kind, start, length)."""

    def __init__(self, texts: list[str], known: set[str] | None, columns: list[Column]) -> None:
        self.texts, self.known = texts, known
        self.markers = {c.marker for c in columns if c.marker and c.marker != "(牵头)"}
        self.cache: dict[tuple[str, int, int], float] = {}
        self.features: dict[tuple[int, int], dict] = {}

    def __call__(self, column: Column, i: int, s: int) -> float:
        key = (column.kind, column.marker, i, s)
        if key not in self.cache:
            f = self._features(i, s)
            if not f["n"]:
                score = EMPTY.get(column.kind, 0.0)
            else:
                score = _score(column.kind, f)
                if s > 1 and column.kind in ("title", "text", "indicator", "category", "other"):
                    for k in range(i, i + s):
                        g = self._features(k, 1)
                        if g["n"] and (g["int"] or g["units"] or g["time"] or g["value"]):
                            score += ODD_LINE
                marked = self.markers & f["chars"]
                if marked and column.kind in ("lead", "responsible", "assessing"):
                    score += 1.0 if column.marker in marked else -1.5
            self.cache[key] = score
        return self.cache[key]

    def _features(self, i: int, s: int) -> dict:
        if (i, s) not in self.features:
            t = "\n".join(x for x in self.texts[i : i + s] if x)
            flat = t.replace("\n", "")
            n = len(flat)
            is_int = bool(_INT.match(flat))
            value = n <= 20 and bool(_VALUE.match(flat.replace(",", "")))
            self.features[(i, s)] = {
                "n": n, "int": is_int, "ref": is_int or bool(_REF.match(flat)), "heading": heading_like(flat),
                "value": value, "unit_word": bool(_UNIT_WORD.match(flat)), "stop": "。" in flat, "chars": set(flat),
                "units": not is_int and not value and n <= 150 and "。" not in flat and self._units(t.replace("\n", "、")),
                "time": n <= 24 and not re.search(r"[。,;]", flat) and (
                    (n <= 12 and bool(_TIME_WORDS.search(flat))) or bool(extract_deadlines(deadline_cell(t), "2000-01-01"))),
            }
        return self.features[(i, s)]

    def _units(self, s: str) -> bool:
        names, _ = split_unit_list(s, self.known)
        return bool(names) and all(
            len(n) <= 30 and (_ORG_TAIL.search(n) or n.startswith("各") or (self.known and n in self.known)) for n in names
        )


def _score(kind: str, f: dict) -> float:
    if kind == "ref":
        return 4.0 if f["int"] else 2.0 if f["ref"] else -5.0
    if kind in ("lead", "responsible", "assessing"):
        if f["units"]:
            return 2.5
        return -5.0 if f["int"] else -3.0 if f["time"] or f["value"] or f["stop"] or f["n"] > 60 else -1.0
    if kind == "deadline":
        return 3.0 if f["time"] else -3.0 if f["int"] or f["units"] else -1.5
    if kind == "unit":
        return 3.0 if f["unit_word"] else -3.0
    if kind == "target":
        if f["value"]:
            return 3.0
        return -2.0 if f["units"] or f["n"] > 20 else 1.0 if f["n"] <= 12 else -0.5
    if kind == "other":
        return -1.0 if f["int"] else 0.0
    if f["int"]:
        return -4.0
    if kind == "category":
        return 2.0 if f["heading"] else -2.0 if f["units"] or f["time"] or f["value"] else 0.5 if f["n"] <= 25 else -1.0
    if f["units"]:
        return -1.0 if kind == "title" else -2.0
    if kind == "text" and f["n"] >= 15:
        return 1.5
    if f["time"] or f["value"] or f["unit_word"]:
        return -2.0
    if kind == "text":
        return 0.5
    if f["stop"]:
        return -0.5
    return 1.0 if f["n"] <= (50 if kind == "indicator" else 40) else 0.0


def align(groups: list[tuple[str, str]], columns: list[Column], known: set[str] | None = None) -> list[Row]:
    """Rows from the groups by the best-scoring assignment to columns (see the module docstring)."""
    m, n_cols = len(groups), len(columns)
    if not m or not n_cols:
        return []
    kinds = [c.kind for c in columns]
    texts = [g[0] for g in groups]
    bound = [g[1] for g in groups] + ["pipe"]
    inline = "row" in bound
    span = [1 if m > MAX_GROUPS_WITH_SPANS else MAX_SPAN.get(k, 1) for k in kinds]
    fit = _Fit(texts, known, columns)
    neg = float("-inf")
    best = [[[neg, neg] for _ in range(n_cols)] for _ in range(m + 1)]
    back: list[list[list[tuple | None]]] = [[[None, None] for _ in range(n_cols)] for _ in range(m + 1)]
    best[0][0][0] = 0.0

    def relax(i: int, c: int, e: int, value: float, prev: tuple, action: tuple) -> None:
        if value > best[i][c][e]:
            best[i][c][e] = value
            back[i][c][e] = (prev, action)

    def advance(i: int, c: int, value: float, prev: tuple, action: tuple) -> None:
        if c + 1 < n_cols:
            relax(i, c + 1, 1, value, prev, action)
        else:
            relax(i, 0, 0, value, prev, action)

    def takes(i: int, c: int, value: float, prev: tuple, extra: float) -> None:
        cost = 0.0
        for s in range(1, span[c] + 1):
            j = i + s
            if j > m:
                break
            if s > 1:
                if bound[j - 1] == "pipe":
                    break
                cost += LINE_JOIN.get(kinds[c], JOIN["line"]) if bound[j - 1] == "line" else JOIN[bound[j - 1]]
            split = SPLIT_CELL if j < m and bound[j] == "join" else 0.0
            advance(j, c, value + fit(columns[c], i, s) + cost + split + extra, prev, ("take", c, i, s))

    for i in range(m + 1):
        for c in range(1, n_cols):
            value = best[i][c][1]
            if value == neg:
                continue
            advance(i, c, value + MISS[kinds[c]], (i, c, 1), ("skip", c))
            if i < m:
                takes(i, c, value, (i, c, 1), JOIN["row"] if inline and bound[i] == "row" else 0.0)
        for c in range(n_cols):
            value = best[i][c][0]
            if value == neg:
                continue
            if c + 1 < n_cols:
                relax(i, c + 1, 0, value + MISS[kinds[c]], (i, c, 0), ("skip", c))
            if i < m:
                start = 0.0 if not inline or i == 0 or bound[i] == "row" else -1.0 if bound[i] == "line" else -3.0
                takes(i, c, value, (i, c, 0), start)
                if c == 0:
                    relax(i + 1, 0, 0, value + DROP, (i, c, 0), ("drop", i))
                    if heading_like(texts[i]) and bound[i + 1] != "join":
                        relax(i + 1, 0, 0, value + HEADING, (i, c, 0), ("head", i))
    actions = []
    state = (m, 0, 0)
    while back[state[0]][state[1]][state[2]] is not None:
        state, action = back[state[0]][state[1]][state[2]]
        actions.append(action)
    return _rows(reversed(actions), texts, kinds)


def _rows(actions, texts: list[str], kinds: list[str]) -> list[Row]:
    rows: list[Row] = []
    current: list[str | None] = [None] * len(kinds)
    above: list[str] = [""] * len(kinds)
    for action in actions:
        if action[0] == "drop":
            continue
        if action[0] == "head":
            rows.append(Row(heading=texts[action[1]]))
            above = [""] * len(kinds)
            continue
        c = action[1]
        if action[0] == "take":
            current[c] = "\n".join(x for x in texts[action[2] : action[2] + action[3]] if x)
        if c == len(kinds) - 1:
            cells = [v if v is not None else above[k] if kinds[k] in CARRY else "" for k, v in enumerate(current)]
            rows.append(Row(cells=cells))
            above = cells
            current = [None] * len(kinds)
    return rows
