"""The office's review of a parsed document, as pure functions over plain data:
merging and splitting measures, the names still to confirm, a task's own due
date, and what an amended document changes against the published one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ReviewError(ValueError):
    """An edit the review refuses, with a message for the office."""


def _unique(names: list[str]) -> list[str]:
    seen, out = set(), []
    for n in names:
        if n not in seen:
            seen.add(n)
            out.append(n)
    return out


def merge_measures(measures: list[dict]) -> dict:
    """One measure from several consecutive ones: texts joined, units united in order."""
    if len(measures) < 2:
        raise ReviewError("合并至少需要两条措施 (merge needs two or more measures)")
    first = measures[0]
    return {
        **first,
        "text": "\n".join(m["text"] for m in measures),
        "lead_units": _unique([u for m in measures for u in m["lead_units"]]),
        "responsible_units": _unique([u for m in measures for u in m["responsible_units"]]),
        "lead_inferred": all(m["lead_inferred"] for m in measures),
        "and_others": any(m["and_others"] for m in measures),
        "raw_annotation": "\n".join(m["raw_annotation"] for m in measures if m["raw_annotation"]),
        "targets": [t for m in measures for t in m["targets"]],
        "deadlines": [d for m in measures for d in m["deadlines"]],
        "edited": True,
    }


def split_measure(measure: dict, parts: list[dict]) -> list[dict]:
    """Several measures from one: each part gives its title and text, and may give its own units."""
    if len(parts) < 2:
        raise ReviewError("拆分至少需要两部分 (split needs two or more parts)")
    out = []
    for i, part in enumerate(parts, start=1):
        if not part.get("text", "").strip():
            raise ReviewError(f"第{i}部分没有正文 (part {i} has no text)")
        out.append(
            {
                **measure,
                "ref": f"{measure['ref']}-{i}",
                "title": part.get("title") or part["text"][:40],
                "text": part["text"],
                "lead_units": part.get("lead_units", measure["lead_units"]),
                "responsible_units": part.get("responsible_units", measure["responsible_units"]),
                "targets": part.get("targets", []),
                "deadlines": part.get("deadlines", []),
                "edited": True,
            }
        )
    return out


def names_of(measure: dict) -> list[str]:
    return _unique(measure["lead_units"] + measure["responsible_units"])


def unresolved_names(measures: list[dict], resolved: dict[str, str]) -> list[str]:
    """Names in the measures that the registry does not know (kind "unknown"), in document order."""
    return _unique([n for m in measures for n in names_of(m) if resolved.get(n, "unknown") == "unknown"])


def task_due_date(deadlines: list[dict]) -> str | None:
    """The earliest dated, non-recurring deadline of a measure: its completion date."""
    dates = sorted(d["date"] for d in deadlines if d.get("date") and not d.get("recurring"))
    return dates[0] if dates else None


@dataclass
class Change:
    kind: str  # "added", "removed" or "changed"
    ref: str
    title: str
    fields: list[str] = field(default_factory=list)
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


COMPARED_FIELDS = ("title", "text", "lead_units", "responsible_units", "targets", "deadlines")


def _key(m: dict) -> str:
    return m["title"].strip() or m["ref"]


def diff_documents(published: list[dict], amended: list[dict]) -> list[Change]:
    """What an amended version changes: measures matched first by title, then the
    rest by numbering; whatever is left is added or removed."""
    old_by_title = {_key(m): i for i, m in enumerate(published)}
    pairs: dict[int, int] = {}  # amended index -> published index
    for j, m in enumerate(amended):
        i = old_by_title.get(_key(m))
        if i is not None and i not in pairs.values():
            pairs[j] = i
    free_by_ref = {m["ref"]: i for i, m in enumerate(published) if i not in pairs.values()}
    for j, m in enumerate(amended):
        if j not in pairs and m["ref"] in free_by_ref:
            pairs[j] = free_by_ref.pop(m["ref"])
    changes: list[Change] = []
    for j, m in enumerate(amended):
        if j not in pairs:
            changes.append(Change("added", m["ref"], m["title"], after=m))
            continue
        old = published[pairs[j]]
        differing = [f for f in COMPARED_FIELDS if old.get(f) != m.get(f)]
        if differing:
            changes.append(
                Change("changed", m["ref"], m["title"], differing,
                       {f: old.get(f) for f in differing}, {f: m.get(f) for f in differing})
            )
    matched = set(pairs.values())
    changes += [Change("removed", m["ref"], m["title"], before=m) for i, m in enumerate(published) if i not in matched]
    return changes
