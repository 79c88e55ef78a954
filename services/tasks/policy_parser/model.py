"""Plain dataclasses for a parsed policy document.

They carry no behaviour so the parser stages stay independent and the JSON
form (see ``serialize.document_to_dict``) is a straight field-for-field dump.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class ParseError(ValueError):
    """Input that cannot yield a task list; ``reason`` is one line, Chinese + English."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Target:
    """A numeric goal: ``value`` is None (with ``needs_value``) when the template left it blank.

    A goal a table states in words (``良好以上``) has ``comparator="qualitative"``,
    ``value=None`` and the words in ``text``.
    """

    indicator: str
    year: int | None
    comparator: str
    value: float | int | None
    unit: str | None
    text: str
    needs_value: bool = False
    category: str | None = None


@dataclass
class Deadline:
    """A dated or recurring time limit found in a passage."""

    phrase: str
    date: str | None
    recurring: str | None
    month_day: str | None
    year_inferred: bool
    text: str


@dataclass
class Section:
    """One node of the document's own numbering tree."""

    ref: str
    number: str
    heading: str
    text: str
    deadlines: list[Deadline] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)


@dataclass
class Measure:
    """A passage carrying a unit annotation: one proposed task."""

    ref: str
    title: str
    text: str
    lead_units: list[str]
    responsible_units: list[str]
    lead_inferred: bool
    and_others: bool
    raw_annotation: str
    targets: list[Target] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)
    assessing_units: list[str] = field(default_factory=list)


@dataclass
class Document:
    title: str | None
    issuer: str | None
    date: str | None
    targets: list[Target] = field(default_factory=list)
    measures: list[Measure] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
