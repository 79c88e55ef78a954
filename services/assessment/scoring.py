"""Scores from facts: pure, deterministic, and explained line by line.

`score_units(facts, scheme, period, unit_ids)` gives every unit its total, grade, rank,
praise / criticism flags and the lines behind the total. Why it is built this way:

- a score is argued over, so every point has a line (indicator, the formula with its
  numbers in Chinese, how many facts, their event ids, the clause), and the lines sum
  exactly to the total: each line is rounded half-up to the cent and the total is the
  sum of the rounded lines (a veto line removes what the others gave);
- the same facts in any order give the same result: value sums use `math.fsum`, event
  ids are sorted, units are ordered by score then id; nothing depends on input order;
- periods: a month, quarter (its three months) or half-year is one process assessment
  over its months' facts pooled. The year is `split.process`% × the mean of the process
  scores of the months (or quarters, `process_over`) in which the unit had any fact, plus
  `split.year_end`% × the score over the whole year's facts (年终考核), indicator by
  indicator: an annual score has a process and a year-end line per indicator;
- a unit with no facts at all: see `no_facts` in the scheme (default zero: its rates
  give 0); it is never praised, and not criticised for its grade alone (a count rule
  such as three escalations in a quarter still applies: those are facts);
- speed (a province: thousands of units × 12 months × dozens of indicators): the
  scheme's formulas are compiled once into one Python function over per-kind counts
  and sums, generated from validated numbers and indices only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from functools import lru_cache
from itertools import chain

from services.assessment.model import FACT_KINDS, Fact, Line, UnitScore
from services.assessment.schemes import Indicator, Scheme, period_months

PROCESS, YEAR_END = "process", "year_end"


def _cents(x: float) -> int:
    """Half-up to the cent on the decimal as written (18.125 → 1813, not binary 1812.4999…)."""
    return int(x * 100 + 0.5 + 1e-9) if x >= 0 else -int(-x * 100 + 0.5 + 1e-9)


def _label(kinds: Iterable[str]) -> str:
    return "+".join(FACT_KINDS.get(k, k) for k in kinds)


def _quarter_months(month: str) -> tuple[str, ...]:
    return period_months(f"{month[:4]}-Q{(int(month[5:]) - 1) // 3 + 1}")


# ---------------------------------------------------------------------------
# The scheme, compiled.


def _kinds_of(ind: Indicator) -> tuple[str, ...]:
    return ind.numerator + ind.denominator if ind.formula == "rate" else ind.kinds


class _Leaf:
    """An indicator with its fact kinds as numbers."""

    __slots__ = (
        "bonus_cap",
        "den_label",
        "group",
        "id",
        "ind",
        "kinds",
        "label",
        "max_points",
        "max_process",
        "max_year",
        "name",
        "num_label",
        "source",
    )

    def __init__(self, ind: Indicator, index: dict[str, int], scheme: Scheme, bonus_cap: float | None):
        self.ind, self.id, self.name, self.source = ind, ind.id, ind.name, ind.source
        self.kinds = tuple(dict.fromkeys(index[k] for k in _kinds_of(ind)))
        self.max_points = ind.weight or ind.cap
        self.max_process = self.max_points * scheme.process_share / 100
        self.max_year = self.max_points * scheme.year_end_share / 100
        self.bonus_cap = bonus_cap
        self.label, self.num_label, self.den_label = _label(ind.kinds), _label(ind.numerator), _label(ind.denominator)


class _Compiled:
    """Kinds numbered, leaves split, and `points(c, s, zero)`: the raw points of every scored
    leaf from counts `c` and value sums `s` (lists by kind number), bonus caps applied."""

    def __init__(self, scheme: Scheme):
        self.scheme = scheme
        kinds = [k for i in scheme.indicators for k in _kinds_of(i)] + [r.kind for r in scheme.criticism.counts]
        self.kinds = list(dict.fromkeys(kinds))
        self.index = {k: n for n, k in enumerate(self.kinds)}
        self.leaves = tuple(_Leaf(i, self.index, scheme, scheme.bonus_cap)
                            for i in scheme.indicators if i.formula != "veto")
        self.veto_leaves = tuple(_Leaf(i, self.index, scheme, None) for i in scheme.indicators if i.formula == "veto")
        self.valued = sorted({k for leaf in self.leaves if leaf.ind.per == "value" for k in leaf.kinds})
        # leaves counting the same kinds share their evidence (event ids, fact count)
        self.groups = list(dict.fromkeys(leaf.kinds for leaf in self.leaves + self.veto_leaves))
        for leaf in self.leaves + self.veto_leaves:
            leaf.group = self.groups.index(leaf.kinds)
        self.points, self.numbers = self._generate()

    def _sum(self, kinds: tuple[str, ...], by_value: bool) -> str:
        return "(" + " + ".join(f"{'s' if by_value else 'c'}[{self.index[k]}]" for k in kinds) + ")"

    def _generate(self) -> tuple[Callable[[list, list, bool], list[float]], Callable[[list, list], list]]:
        """`points(c, s, zero)`, and `numbers(c, s)`: per leaf the numbers its explanation shows
        ((numerator, denominator) of a rate, the amount of a deduction or bonus)."""
        body, names, shown = [], [], []
        for n, leaf in enumerate(self.leaves):
            ind, p, w = leaf.ind, f"p{n}", float(leaf.ind.weight)
            if ind.formula == "rate":
                empty = 0.0 if ind.empty == "zero" else w if ind.empty == "full" else float(ind.empty)
                body.append(f"d = {self._sum(ind.denominator, False)}")  # a rate: weight × min(1, num / den)
                body.append(f"{p} = ({w!r} if (n := {self._sum(ind.numerator, False)}) >= d else {w!r} * (n / d)) "
                            f"if d > 0 else (0.0 if zero else {empty!r})")
            elif ind.formula == "deduction":  # max(0, weight − points × amount)
                body.append(f"{p} = x if (x := {w!r} - {float(ind.points)!r} * "
                            f"{self._sum(ind.kinds, ind.per == 'value')}) > 0.0 else 0.0")
            else:  # a bonus: min(cap, points × amount)
                body.append(f"{p} = x if (x := {float(ind.points)!r} * {self._sum(ind.kinds, ind.per == 'value')}) "
                            f"< {float(ind.cap)!r} else {float(ind.cap)!r}")
            names.append(p)
            shown.append(f"({self._sum(ind.numerator, False)}, d)" if ind.formula == "rate"
                         else self._sum(ind.kinds, ind.per == "value"))
        if self.scheme.bonus_cap is not None:
            body.append(f"room = {float(self.scheme.bonus_cap)!r}")
            for n, leaf in enumerate(self.leaves):
                if leaf.ind.formula == "bonus":
                    body += [f"p{n} = p{n} if p{n} < room else room", f"room -= p{n}"]
        body.append(f"return [{', '.join(names)}]")
        numbers = [f"    d = {self._sum(leaf.ind.denominator, False)}\n" if leaf.ind.formula == "rate" else ""
                   for leaf in self.leaves]
        source = ("def points(c, s, zero):\n" + "".join(f"    {line}\n" for line in body)
                  + "def numbers(c, s):\n    out = []\n"
                  + "".join(f"{d}    out.append({x})\n" for d, x in zip(numbers, shown)) + "    return out\n")
        namespace: dict = {}
        exec(compile(source, f"<scheme {self.scheme.version or self.scheme.name}>", "exec"), namespace)  # noqa: S102
        return namespace["points"], namespace["numbers"]


@lru_cache(maxsize=32)
def _compiled(scheme: Scheme) -> _Compiled:
    return _Compiled(scheme)


# ---------------------------------------------------------------------------
# Facts into per-unit rows.


class _Row:
    """One unit's facts: counts by (month, kind number) in one flat list (slot K of each
    month counts the kinds the scheme does not score: the month still had a fact), the
    values of the kinds scored by value, and the event ids of the period's months by kind."""

    __slots__ = ("counts", "ids", "values")

    def __init__(self, months: int, width: int, kinds: int):
        self.counts = [0] * (months * width)
        self.values: dict[tuple[int, int], list[float]] = {}
        self.ids: list[list] = [[] for _ in range(kinds)]


def _bucket(facts: Iterable[Fact], units: list[int], months: list[str], in_period: range,
            cs: _Compiled, explain: bool) -> dict[int, _Row]:
    kinds = len(cs.kinds)
    width = kinds + 1
    rows = {u: _Row(len(months), width, kinds) for u in units}
    base_of = {m: n * width for n, m in enumerate(months)}
    first_id_base = in_period.start * width if explain else len(months) * width  # no ids kept: no lines
    index, valued = cs.index, set(cs.valued)
    for f in facts:
        base = base_of.get(f.period)
        if base is None:
            continue
        row = rows.get(f.unit_id)
        if row is None:
            continue
        k = index.get(f.kind, kinds)
        row.counts[base + k] += 1
        if k in valued:
            row.values.setdefault((base // width, k), []).append(f.value)
        if k < kinds and base >= first_id_base:
            row.ids[k].extend(f.event_ids)
    return rows


def _stats(row: _Row, ats: Iterable[int], width: int) -> tuple[list[int], list[float]] | None:
    """Counts and exact value sums of some months together; None if they had no fact at all."""
    counts = row.counts
    parts = [counts[a * width:(a + 1) * width] for a in ats]
    parts = [p for p in parts if any(p)]
    if not parts:
        return None
    pooled = parts[0] if len(parts) == 1 else [sum(col) for col in zip(*parts)]
    sums = [0.0] * width
    if row.values:
        wanted = set(ats)
        values: dict[int, list] = {}
        for (a, k), vals in row.values.items():
            if a in wanted:
                values.setdefault(k, []).extend(vals)
        for k, vals in values.items():
            sums[k] = math.fsum(vals)
    return pooled, sums


# ---------------------------------------------------------------------------
# Explanations.


def _explain(leaf: _Leaf, zero: bool, numbers, cents: int) -> str:
    """The formula of one leaf with its numbers, in Chinese."""
    ind = leaf.ind
    shown = f"{cents / 100:.2f}分"
    if ind.formula == "rate":
        num, den = numbers
        if den <= 0:
            if zero:
                return f"本期无任何考核事实, 按方案(no_facts: zero)计0分 (满分{ind.weight:g}分)"
            rule = (f"按方案计满分{ind.weight:g}分" if ind.empty == "full" else "按方案计0分" if ind.empty == "zero"
                    else f"按方案计{float(ind.empty):g}分")
            return f"本期无{leaf.den_label}, {rule} = {shown}"
        over = ", 按100%计" if num > den else ""
        return (f"{leaf.num_label} {num:g}/{leaf.den_label} {den:g} = {100 * num / den:.1f}%{over}"
                f" × {ind.weight:g}分 = {shown}")
    x, by_value = numbers, ind.per == "value"
    what = f"合计{x:g}{ind.unit}" if by_value else f"{x:g}次"
    each = f"{ind.points:g}分/{ind.unit}" if by_value and ind.unit else f"{ind.points:g}分"
    if ind.formula == "deduction":
        floor = " (扣至0分为止)" if ind.points * x > ind.weight else ""
        return f"{ind.weight:g}分 − {leaf.label} {what} × {each}{floor} = {shown}"
    raw = ind.points * x
    text = f"{leaf.label} {what} × {each} = {raw:g}分"
    if raw > ind.cap:
        text += f", 本项上限{ind.cap:g}分"
    if cents < _cents(min(raw, ind.cap)):
        text += f", 加分合计上限{leaf.bonus_cap:g}分"
    return f"{text} → {shown}"


# ---------------------------------------------------------------------------
# One unit.


def _unit_lines(cs: _Compiled, annual: bool, row: _Row, in_period: range, memo: dict,
                explain: bool) -> tuple[list[Line], int, Line | None, bool]:
    """A unit's lines (none unless `explain`), their sum in cents (the total), the veto line if
    vetoed, whether it had facts. The total is the same sum of rounded lines either way."""
    scheme, width = cs.scheme, len(cs.kinds) + 1
    stats = _stats(row, in_period, width)
    has_facts = stats is not None
    zero = not has_facts and scheme.no_facts == "zero"
    c, s = stats or ([0] * width, [0.0] * width)
    points = cs.points(c, s, zero)
    counts = [sum(map(c.__getitem__, g)) for g in cs.groups]  # facts per kind group
    ids = [tuple(sorted(row.ids[g[0]] if len(g) == 1 else set(chain.from_iterable(row.ids[k] for k in g))))
           for g in cs.groups] if explain else None  # per kind group: the event ids
    numbers = cs.numbers(c, s) if explain else None
    lines: list[Line] = []
    total = 0
    # Explanations repeat from unit to unit (same numbers, same points): `memo` keeps them for the call.
    if not annual:  # a month, quarter or half-year: one process assessment
        for n, leaf in enumerate(cs.leaves):
            cents = _cents(points[n])
            total += cents
            if explain:
                key = (n, zero, numbers[n], cents)
                text = memo.get(key) or memo.setdefault(key, _explain(leaf, zero, numbers[n], cents))
                lines.append(Line(leaf.id, leaf.name, text, cents / 100, leaf.max_points, counts[leaf.group],
                                  ids[leaf.group], leaf.source, PROCESS))
    else:
        ps, ys = scheme.process_share, scheme.year_end_share
        step = 1 if scheme.process_over == "month" else 3
        subs = [_stats(row, range(q, q + step), width) for q in range(in_period.start, in_period.stop, step)]
        sub_points = [cs.points(sc, ss, False) for sc, ss in filter(None, subs)]
        rated, by_leaf = len(sub_points), list(zip(*sub_points))
        word = "个月" if step == 1 else "个季度"
        year_end: list[Line] = []
        for n, leaf in enumerate(cs.leaves):
            p = points[n]
            if rated:  # the mean of the months (quarters) that had facts
                mean = math.fsum(by_leaf[n]) / rated
                cents = _cents(mean * ps / 100)
                if explain:
                    shown = _cents(mean)
                    key = (rated, shown, cents)
                    text = memo.get(key) or memo.setdefault(
                        key, f"过程考核: {rated}{word}(有考核事实)平均 {shown / 100:.2f}分 × {ps:g}% = {cents / 100:.2f}分")
            else:  # no facts all year: the no-facts score
                cents = _cents(p * ps / 100)
                if explain:
                    text = f"过程考核: {_explain(leaf, zero, numbers[n], _cents(p))} × {ps:g}% = {cents / 100:.2f}分"
            total += cents
            if explain:
                lines.append(Line(leaf.id, leaf.name, text, cents / 100, leaf.max_process, counts[leaf.group],
                                  ids[leaf.group], leaf.source, PROCESS))
            cents = _cents(p * ys / 100)
            total += cents
            if explain:
                whole = _cents(p)
                key = (n, zero, numbers[n], whole, cents)
                text = memo.get(key) or memo.setdefault(
                    key, f"年终考核: {_explain(leaf, zero, numbers[n], whole)} × {ys:g}% = {cents / 100:.2f}分")
                year_end.append(Line(leaf.id, leaf.name, text, cents / 100, leaf.max_year, counts[leaf.group],
                                     ids[leaf.group], leaf.source, YEAR_END))
        lines += year_end
    veto = None
    stage = YEAR_END if annual else PROCESS
    for leaf in cs.veto_leaves:
        n, evidence = counts[leaf.group], ids[leaf.group] if explain else ()
        if n and veto is None:
            veto = Line(leaf.id, leaf.name, f"{leaf.label} {n}次, 一票否决: 扣除其余各项得分 {-total / 100:.2f}分",
                        -total / 100, 0.0, n, evidence, leaf.source, stage)
            if explain:
                lines.append(veto)
            total = 0
        elif explain:
            text = f"{leaf.label} {n}次, 一票否决 (已由前项否决)" if n else f"未发生{leaf.label}, 不否决"
            lines.append(Line(leaf.id, leaf.name, text, 0.0, 0.0, n, evidence, leaf.source, stage))
    return lines, total, veto, has_facts


# ---------------------------------------------------------------------------
# Praise and criticism.


def _count_windows(cs: _Compiled, months: list[str], own: tuple[str, ...]) -> list[tuple]:
    """For each count rule: its kind number and the windows it counts in, as (label, month slots)."""
    at, out = {m: n for n, m in enumerate(months)}, []
    for rule in cs.scheme.criticism.counts:
        if rule.within == "period":
            windows = [("本期", own)]
        elif rule.within == "month":
            windows = [(m, (m,)) for m in own]
        else:  # the quarters the period touches, up to the period's last month
            windows = [(f"{q[0][:4]}年第{(int(q[0][5:]) + 2) // 3}季度", [m for m in q if m <= own[-1]])
                       for q in sorted({_quarter_months(m) for m in own})]
        out.append((rule, cs.index[rule.kind], [(label, [at[m] for m in ms]) for label, ms in windows]))
    return out


def _count_hits(windows: list[tuple], row: _Row, width: int) -> list[str]:
    """Remarks for every count rule a unit breaks (e.g. 3 escalations within a quarter)."""
    hits = []
    for rule, k, spans in windows:
        for label, slots in spans:
            n = sum(row.counts[a * width + k] for a in slots)
            if n >= rule.at_least:
                hits.append(f"{label}{FACT_KINDS.get(rule.kind, rule.kind)}{n}次(≥{rule.at_least}次) → 通报批评、约谈 "
                            f"({rule.source})")
                break
    return hits


def _grade(scheme: Scheme, cents: int, vetoed: bool) -> str:
    if not vetoed:
        for name, minimum in scheme.grades:
            if cents >= _cents(minimum):
                return name
    return scheme.grades[-1][0]


# ---------------------------------------------------------------------------


def score_units(facts: Iterable[Fact], scheme: Scheme, period: str, unit_ids: Iterable[int], *,
                explain: bool = True) -> list[UnitScore]:
    """Scores of `unit_ids` for `period` (YYYY-MM, YYYY-Qn, YYYY-Hn or YYYY), best first.

    `explain=False` leaves out the lines (a ranking or a bulletin needs only totals, grades
    and ranks); totals, grades, ranks and remarks are the same either way.

    `facts` may hold more than the period: only the period's months count, plus the
    quarter-to-date months that criticism count rules look at. Ties share a rank and are
    listed by unit id. Pure and deterministic."""
    cs = _compiled(scheme)
    own = period_months(period)
    units = sorted(set(unit_ids))
    needed = set(own)
    if any(r.within == "quarter" for r in scheme.criticism.counts):
        needed |= {m for mm in own for m in _quarter_months(mm) if m <= own[-1]}
    months = sorted(needed)
    in_period = range(months.index(own[0]), months.index(own[0]) + len(own))
    rows = _bucket(facts, units, months, in_period, cs, explain)
    results, memo = [], {}
    for unit in units:
        lines, cents, veto, has_facts = _unit_lines(cs, len(period) == 4, rows[unit], in_period, memo, explain)
        results.append((unit, cents, lines, veto, has_facts))
    results.sort(key=lambda r: (-r[1], r[0]))
    windows, width = _count_windows(cs, months, own), len(cs.kinds) + 1
    grade_order = [g for g, _ in scheme.grades]
    crit = scheme.criticism
    scores, rank, previous = [], 0, None
    for position, (unit, cents, lines, veto, has_facts) in enumerate(results, start=1):
        if cents != previous:
            rank, previous = position, cents
        grade = _grade(scheme, cents, veto is not None)
        remarks: list[str] = []
        if veto is not None:
            remarks.append(f"一票否决: {veto.indicator} ({veto.source})")
        if not has_facts:
            remarks.append("本期无考核事实 (请核实该单位是否确无应报事项)")
        criticism = has_facts and bool(
            (veto is not None and crit.vetoed) or grade in crit.grades or (crit.bottom and rank > len(results) - crit.bottom))
        if criticism:
            why = "一票否决" if veto is not None else f"等次{grade}、第{rank}名"
            remarks.append(f"{why} → 通报批评、约谈 ({crit.source})")
        hits = _count_hits(windows, rows[unit], width)
        remarks += hits
        criticism = criticism or bool(hits)
        praise = (has_facts and veto is None and not criticism and rank <= scheme.praise.top
                  and grade_order.index(grade) <= grade_order.index(scheme.praise.min_grade))
        if praise:
            remarks.append(f"第{rank}名、等次{grade} → 通报表扬 ({scheme.praise.source})")
        scores.append(UnitScore(unit_id=unit, period=period, total=cents / 100, grade=grade, rank=rank,
                                vetoed=veto is not None, lines=tuple(lines), praise=praise, criticism=criticism,
                                remarks=tuple(remarks)))
    return scores
