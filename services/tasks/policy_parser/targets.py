"""Numeric targets: ``到2024年…占比达65%以上``, ``分别达16093元、12500元以上``.

A number counts as a target when it is what a clause commits to: it carries a
comparator (以上, 不低于 …), follows a target verb (达到, 新增, 建设 …) or ends
the clause. Numbers that only qualify something (``5000万元以上的龙头企业``),
baselines (``为13411元``, ``从2021年的9708元``) and eligibility criteria in
``对…`` sentences are skipped. A blank in a template (``达元、元以上``) is a
target with ``value=None`` and ``needs_value=True``, never a guess.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from .model import Target
from .text import YEAR, sentences, split_top

_BASE_UNITS = (
    "个百分点|人次|公里|千米|平方米|立方米|公顷|千克|公斤|千瓦|兆瓦|小时|周岁|元|%|‰|人|户|个|家|名|头|只|羽|亩|吨|"
    "斤|米|处|项|次|所|座|条|间|套|台|辆|张|株|棵|批|场|期|片|件|份|倍|床|篇|支|门"
)
_UNIT = rf"(?:万|亿|千)?(?:{_BASE_UNITS})(?:/(?:人|户|年|月|亩|天|日|次|个|头|只|吨))*"
_BLANK_UNIT = r"万元|亿元|万亩|万人|万户|元|%|亩|人|户|个|吨|千克|头|只|家|名|处|公里|项"
_TOKEN = re.compile(
    rf"(?P<ratio>(?<![\d.:])\d+(?:\.\d+)?:\d+(?:\.\d+)?)"
    rf"|(?P<num>(?<![\d.:])\d+(?:\.\d+)?)\s*(?P<unit>{_UNIT})"
    rf"|(?P<blank>{_BLANK_UNIT})"
    rf"|(?P<bare>(?:(?<=达)|(?<=达到))(?=(?:以上|以下)(?:[,;。、)]|$)))"
)
_SUFFIX = re.compile(r"\s*(及以上|以上|以下|以内|之内|左右)")
_SUFFIX_CMP = {"及以上": ">=", "以上": ">=", "以下": "<=", "以内": "<=", "之内": "<=", "左右": "="}
_PREFIX_CMP = [
    ("不得低于", ">="), ("不低于", ">="), ("不少于", ">="), ("至少", ">="), ("最少", ">="),
    ("不得超过", "<="), ("不超过", "<="), ("不高于", "<="), ("不多于", "<="), ("最多", "<="), ("控制在", "<="),
    ("超过", ">"), ("高于", ">"), ("多于", ">"), ("大于", ">"), ("突破", ">"),
    ("低于", "<"), ("少于", "<"), ("小于", "<"), ("不足", "<"),
]
_VERB = (
    r"达到|达|稳定在|保持在|控制在|提高到|提高至|提升到|提升至|增加到|增加至|增长到|增至|降至|降到|突破|超过|"
    r"不低于|不少于|不高于|不超过|不得低于|不得少于|至少有|至少|增长|增加|提高|提升|增收|新增|新建|建成|建设|改造|"
    r"完成|实施|培育|培训|引进|打造|创建|发展|认定|资助|输转|扶持|推进|开发|支持|覆盖|实现"
)
_ADVERB = r"分别|(?<![人户年平])均|都|稳定|预计|全部|累计|力争|确保|逐步|逐年|持续|要|将|需|能|可|总|每年|再"
_VERB_BEFORE = re.compile(rf"(?:{_VERB})(?:{_ADVERB})*\s*$")
_COUNT_VERB = re.compile(r"(新增|新建|建成|建设|建立|改造|完成|实施|培育|培训|引进|打造|创建|发展|认定|资助|推进|开发|参加|有)$")
_TRAIL = re.compile(rf"(?:{_ADVERB}|实现|达到|达|稳定在|保持在|控制在|提高到|提高至|提升到|提升至|增加到|增加至|增长到|增至|降至|降到|"
                    rf"不得低于|不得少于|不低于|不少于|不高于|不超过|低于|高于|超过|至少有|至少|在|为|有|的|[、,:(\s])$")
_LEAD = re.compile(r"^(?:[、,:()\s]|其中|确保|力争|争取|努力|实现|推动|使|保证|并|且|同时|以后|全年|年内|计划|预计|到|至|截至)")
_YEAR_PHRASE = re.compile(r"(?:到|至|截至|在)?(?:19|20)\d{2}\s*年(?:底|末|年底|年末)?(?:前)?")
_CATEGORY = re.compile(r"^(.*?(?:农户|户|人口|对象|群体))(.+)$")
_EACH = re.compile(r"(?<![人户年月日平])均\s*(?:达到|达|为|稳定在|保持在|提高到|超过|不低于)$")
_MAIN_PRED = re.compile(r"开展|给予|实行|实施|纳入|采取|进行|列为|建立|制定|提供|予以")
_SHARE = re.compile(r"^(.+?)(不得低于|不低于|不少于|不超过|不高于|超过|低于|高于)(.+?)的?$")
_DELTA = re.compile(r"(增长|增加|提高|增收)$")


@dataclass
class _Token:
    start: int
    end: int
    value: float | int | None
    unit: str | None
    cmp: str | None


def _number(s: str) -> float | int:
    f = float(s)
    return int(f) if f.is_integer() and "." not in s else f


def _tokens(clause: str) -> list[_Token]:
    out: list[_Token] = []
    for m in _TOKEN.finditer(clause):
        if m.group("ratio"):
            if "比" not in clause[: m.start()]:
                continue
            a, b = m.group("ratio").split(":")
            value, unit = _number(a), f":{b}"
        elif m.group("num"):
            value, unit = _number(m.group("num")), m.group("unit")
        elif m.group("bare") is not None:
            value, unit = None, None
        else:
            if not _is_blank(clause, m, out):
                continue
            value, unit = None, m.group("blank")
        end = m.end()
        suffix = _SUFFIX.match(clause, end)
        cmp = None
        if suffix:
            cmp, end = _SUFFIX_CMP[suffix.group(1)], suffix.end()
        out.append(_Token(m.start(), end, value, unit, cmp))
    return out


def _is_blank(clause: str, m: re.Match[str], prev: list[_Token]) -> bool:
    """A unit with no number where the sentence expects one (a template left blank)."""
    before, after = clause[max(0, m.start() - 40) : m.start()], clause[m.end() :]
    if before[-1:].isdigit() or before[-1:] == ".":
        return False
    unit = m.group("blank")
    closes = after == "" or after[0] in "、,;。)" or after.startswith(("以上", "以下", "左右"))
    if unit == "%":
        return True
    if prev and prev[-1].end == m.start() - 1 and before.endswith("、") and closes:
        return True
    if _VERB_BEFORE.search(before):
        return closes or (unit == "个" and bool(after) and after[0] not in "体人性别案月把")
    return unit == "个" and closes and not re.search(r"[一二三四五六七八九十百千万两几每各整这那某哪半多]$", before)


class _Scan:
    """Quote and bracket depth at increasing positions of one clause, counted once."""

    def __init__(self, clause: str) -> None:
        self.clause, self.pos, self.quote, self.title, self.paren = clause, 0, 0, 0, 0

    def at(self, end: int) -> _Scan:
        seg = self.clause[self.pos : end]
        self.quote += seg.count("“") - seg.count("”")
        self.title += seg.count("《") - seg.count("》")
        self.paren += seg.count("(") - seg.count(")")
        self.pos = end
        return self


def _skip(clause: str, tok: _Token, seg: str, scan: _Scan) -> bool:
    """Qualifiers, baselines, ranges, ordinals and quoted names are not targets."""
    near = clause[max(0, tok.start - 40) : tok.start]
    state = scan.at(tok.start)
    if re.search(r"[-—~至]\s*$", near) or near.endswith("第"):
        return True
    if state.quote > 0 or state.title > 0:
        return True
    if re.search(r"为\s*$", near) or re.search(r"[从由]", seg):
        return True
    rest = clause[tok.end : tok.end + 60]
    rest = re.sub(r"^\([^()]*\)", "", rest)
    if rest.startswith("的") and not re.match(r"的.{0,4}?(?:标准|水平|目标|比例|额度)", rest):
        return True
    if state.paren > 0 and tok.cmp is None and not _prefix_cmp(seg) and not _VERB_BEFORE.search(near):
        return True
    if tok.cmp or _prefix_cmp(seg) or _VERB_BEFORE.search(near):
        return False
    return not (rest == "" or rest[0] in "、,;。)(")


def _prefix_cmp(seg: str) -> str | None:
    best, end = None, -1
    for word, cmp in _PREFIX_CMP:
        i = seg.rfind(word)
        if i >= 0 and i + len(word) > end:
            best, end = cmp, i + len(word)
    return best


def _clean(s: str, share: bool = False) -> str:
    """An indicator from the words before a value (bounded: real ones are short)."""
    s = _YEAR_PHRASE.sub("", s[-150:])
    m = _SHARE.match(s) if share else None
    if m:
        s = m.group(3) if re.search(r"(?:将|把|按|按照)$", m.group(1)) else f"{m.group(1)}占{m.group(3)}"
    for word, _ in _PREFIX_CMP:
        s = s.replace(word, "")
    prev = None
    while prev != s:
        prev = s
        s = _LEAD.sub("", s.strip())
        s = _TRAIL.sub("", s.strip())
        s = re.sub(rf"(?:{_ADVERB})+(?=(?:增长|增加|提高|增收)$)", "", s)
        s = re.sub(r"\([^()]{10,}\)", "", s)
    return s.strip()


def _head_noun(after: str) -> str:
    after = re.split(r"[,;。]", after, maxsplit=1)[0]
    return after.rsplit("的", 1)[-1].strip()


def extract_targets(text: str, default_year: int | None = None) -> list[Target]:
    targets: list[Target] = []
    for sentence in sentences(text):
        targets += _sentence_targets(sentence, default_year)
    return targets


def _sentence_targets(sentence: str, default_year: int | None) -> list[Target]:
    out: list[Target] = []
    subject = _Subject()
    years = [(m.end(), int(m.group(1))) for m in YEAR.finditer(sentence)]
    categories: list[str] = []
    in_scope = False
    offset = 0
    for clause in split_top(sentence, ",:"):
        clause_start = sentence.find(clause, offset)
        offset = clause_start + len(clause)
        if re.match(r"\s*对", clause):
            in_scope = True
        if in_scope:
            in_scope = not _MAIN_PRED.search(clause)
            continue
        toks = _tokens(clause)
        head = re.split(r"[从由]", clause[: toks[0].start] if toks else clause)[0]
        kept: list[_Token] = []
        seg_start: dict[int, int] = {}
        scan = _Scan(clause)
        for k, tok in enumerate(toks):
            start = _next_start(clause, kept[-1].end) if kept else 0
            if kept and _in_object(clause, kept[-1], seg_start[id(kept[-1])], tok):
                continue
            if tok.cmp and k + 1 < len(toks) and re.match(r"[\u4e00-\u9fff“]", clause[tok.end : tok.end + 1]):
                continue
            if not _skip(clause, tok, clause[start : tok.start], scan):
                seg_start[id(tok)] = start
                kept.append(tok)
        for run in _runs(clause, kept):
            seg = clause[seg_start[id(run[0])] : run[0].start]
            k = bisect.bisect_right(years, (clause_start + run[0].start, 10000))
            year = years[k - 1][1] if k else default_year
            labels, cats = _labels(clause, kept, run, seg, categories, seg_start)
            if cats:
                categories = cats
            for tok, (indicator, category) in zip(run, labels, strict=True):
                if indicator in ("", "增长", "增加", "提高", "提升", "增收"):
                    verb = "" if re.search(r"[到至]", seg) else indicator
                    found = subject.get()
                    indicator = _DELTA.sub("", found) + verb if found else indicator
                cmp = tok.cmp or run[-1].cmp or _prefix_cmp(clause[seg_start[id(tok)] : tok.start]) or "="
                for cat in ([category] if category or not _EACH.search(seg) or not categories else categories):
                    out.append(Target(indicator, year, cmp, tok.value, tok.unit, sentence, tok.value is None, cat))
        subject.heads.append(head)
    return out


class _Subject:
    """The subject of the nearest earlier clause, for ``…增长15%以上,达到13200元以上``;
    clause heads are cleaned lazily, each at most once."""

    def __init__(self) -> None:
        self.heads: list[str] = []
        self.done = 0
        self.value = ""

    def get(self) -> str:
        for head in self.heads[self.done :]:
            cleaned = _clean(head, share=True)
            if cleaned:
                self.value = re.split(r"[从由]", cleaned)[0]
        self.done = len(self.heads)
        return self.value


def _next_start(clause: str, prev_end: int) -> int:
    """After ``1项主导产业、`` the next subject starts past the 、 that ends the previous object."""
    if re.match(r"[\u4e00-\u9fff“]", clause[prev_end : prev_end + 1]):
        cut = clause.find("、", prev_end)
        return cut + 1 if cut >= 0 else prev_end
    return prev_end


def _in_object(clause: str, prev: _Token, start: int, tok: _Token) -> bool:
    """``打造10个存栏1000头以上…基地``: numbers after a counted object belong to its description."""
    between = clause[prev.end : tok.start]
    return bool(between) and between[0] not in "、,;。)(" and "、" not in between and _counts(clause[start : prev.start])


def _counts(before: str) -> bool:
    before = before.strip()
    return bool(_COUNT_VERB.search(before) or _COUNT_VERB.search(_TRAIL.sub("", before)))


def _runs(clause: str, toks: list[_Token]) -> list[list[_Token]]:
    """Group tokens joined only by 、 (``16093元、12500元以上``): they share one subject list."""
    runs: list[list[_Token]] = []
    for tok in toks:
        if runs and clause[runs[-1][-1].end : tok.start] == "、":
            runs[-1].append(tok)
        else:
            runs.append([tok])
    return runs


def _labels(clause, toks, run, seg, categories, seg_start) -> tuple[list[tuple[str, str | None]], list[str]]:
    """(indicator, household category) per token of a run, and categories to remember."""
    if "分别" in seg and len(run) > 1:
        pre = seg[: seg.rindex("分别")]
        subjects = split_top(pre, "、")
        if len(subjects) == len(run):
            m = _CATEGORY.match(subjects[-1])
            if m and all(re.search(r"(户|人口|对象|群体)$", s.strip()) for s in subjects[:-1]):
                cats = [s.strip() for s in subjects[:-1]] + [m.group(1).strip()]
                shared = _clean(m.group(2))
                return [(shared, c) for c in cats], cats
            return [(_clean(s), None) for s in subjects], []
        if len(categories) == len(run):
            shared = _clean(pre)
            return [(shared, c) for c in categories], []
    labels = []
    position = {id(t): k for k, t in enumerate(toks)}
    for tok in run:
        before = clause[seg_start[id(tok)] : tok.start]
        indicator = _clean(before, share=tok.unit == "%")
        nxt = position[id(tok)] + 1
        end = seg_start[id(toks[nxt])] if nxt < len(toks) else len(clause)
        after = clause[tok.end : end - 1 if clause[end - 1 : end] == "、" else end]
        if (_counts(before) or len(indicator) <= 4) and re.match(r"[\u4e00-\u9fff“]", after[:1]):
            indicator += _head_noun(after)
        labels.append((indicator, None))
    return labels, []
