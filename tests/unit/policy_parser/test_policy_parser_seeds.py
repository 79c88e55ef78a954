"""The five seed documents parse to the reviewed expected outputs."""

from __future__ import annotations

import io
import json
import re
import textwrap
from pathlib import Path

import pytest
from docx import Document as DocxDocument
from policy_parser_seedfiles import EXPECTED_DIR, SEED_COUNTS, seed_path

from services.tasks.policy_parser import (
    document_to_dict,
    parse_bytes,
    parse_path,
    parse_text,
)

SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "docs" / "policy-document.schema.json").read_text("utf-8"))


@pytest.mark.parametrize("number", sorted(SEED_COUNTS))
def test_seed_matches_expected(number):
    expected = json.loads((EXPECTED_DIR / f"{number}.json").read_text("utf-8"))
    assert document_to_dict(parse_path(seed_path(number))) == expected


@pytest.mark.parametrize("number,count", sorted(SEED_COUNTS.items()))
def test_seed_measure_counts(number, count):
    assert len(parse_path(seed_path(number)).measures) == count


def test_all_seeds_hold_87_measures():
    assert sum(len(parse_path(seed_path(n)).measures) for n in SEED_COUNTS) == 87


@pytest.mark.parametrize("number", sorted(SEED_COUNTS))
def test_expected_files_agree_with_counts_and_schema(number):
    expected = json.loads((EXPECTED_DIR / f"{number}.json").read_text("utf-8"))
    assert len(expected["measures"]) == SEED_COUNTS[number]
    assert _errors(expected, SCHEMA) == []


def test_seed_000_reviewed_details():
    doc = parse_path(seed_path("000"))
    first = doc.measures[0]
    assert (first.ref, first.lead_units, first.lead_inferred) == ("二.(一)", ["县乡村振兴局"], False)
    assert first.responsible_units[-1] == "各乡镇党委和政府"
    assert doc.measures[1].responsible_units[-1] == "各乡镇党委、政府"
    income = [(t.year, t.category, t.value) for t in doc.targets if t.indicator == "家庭人均纯收入"]
    assert income[:2] == [(2022, "脱贫户", 16093), (2022, "易返贫致贫户", 12500)]
    subsidy = [t for m in doc.measures for t in m.targets if t.unit == "元/人/年"]
    assert [(t.year, t.comparator, t.value) for t in subsidy] == [(2022, ">=", 4960), (2023, ">=", 5158), (2024, ">=", 5364)]


def test_seed_004_and_others():
    doc = parse_path(seed_path("004"))
    second = doc.measures[1]
    assert second.responsible_units == ["市农业农村局", "市乡村振兴局", "市财政局", "县区党委政府"]
    assert second.and_others and second.lead_inferred and second.lead_units == ["市农业农村局"]
    assert not doc.measures[0].and_others


def test_seed_003_filing_deadline():
    doc = parse_path(seed_path("003"))
    deadlines = [d for s in doc.sections for c in s.children for d in c.deadlines]
    assert [(d.phrase, d.date, d.year_inferred) for d in deadlines] == [("6月30日前", "2020-06-30", True)]


def _errors(value, schema, path="$", root=None):
    """A minimal JSON-Schema check (type, enum, required, properties, items, $ref, anyOf, pattern)."""
    root = root or schema
    if "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in schema:
        options = [_errors(value, s, path, root) for s in schema["anyOf"]]
        return [] if any(not o for o in options) else [f"{path}: no anyOf branch matches"]
    errors = []
    types = schema.get("type")
    if types is not None:
        types = types if isinstance(types, list) else [types]
        checks = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
        ok = any(
            (t == "integer" and isinstance(value, int) and not isinstance(value, bool))
            or (t == "number" and isinstance(value, (int, float)) and not isinstance(value, bool))
            or (t in checks and isinstance(value, checks[t]))
            for t in types
        )
        if not ok:
            return [f"{path}: {value!r} is not {types}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in enum")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{path}: {value!r} does not match pattern")
    if isinstance(value, dict):
        errors += [f"{path}: missing {k}" for k in schema.get("required", []) if k not in value]
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            errors += [f"{path}: unexpected {k}" for k in value if k not in props]
        for key, sub in props.items():
            if key in value:
                errors += _errors(value[key], sub, f"{path}.{key}", root)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += _errors(item, schema["items"], f"{path}[{i}]", root)
    return errors


FULL_WIDTH = str.maketrans({"(": "（", ")": "）", ":": "：", ",": "，", ";": "；", "%": "％"})


@pytest.mark.parametrize("number", sorted(SEED_COUNTS))
def test_seed_in_full_width_punctuation_and_gbk_gives_the_same_result(number):
    path = seed_path(number)
    text = path.read_text("utf-8")
    variant = text.translate(FULL_WIDTH).encode("gb18030")
    assert document_to_dict(parse_bytes(variant, path.name)) == document_to_dict(parse_path(path))


@pytest.mark.parametrize("number", sorted(SEED_COUNTS))
def test_seed_as_docx_gives_the_same_measures(number):
    path = seed_path(number)
    docx = DocxDocument()
    for line in path.read_text("utf-8").splitlines():
        docx.add_paragraph(line)
    buf = io.BytesIO()
    docx.save(buf)
    assert document_to_dict(parse_bytes(buf.getvalue(), "seed.docx")) == document_to_dict(parse_path(path))


@pytest.mark.parametrize("number", sorted(SEED_COUNTS))
@pytest.mark.parametrize("width", [22, 34, 40])
def test_seed_hard_wrapped_like_pdf_text_gives_the_same_task_list(number, width):
    path = seed_path(number)
    text = path.read_text("utf-8")
    wrapped = "\n".join("\n".join(textwrap.wrap(line, width)) if line else "" for line in text.split("\n"))
    assert wrapped.count("\n") > text.count("\n") * 2

    def task_list(doc):
        return [(m.ref, m.lead_units, m.responsible_units, m.and_others, len(m.targets)) for m in doc.measures]

    original, unwrapped = parse_path(path), parse_text(wrapped)
    assert task_list(unwrapped) == task_list(original)
    assert (unwrapped.title, unwrapped.issuer, unwrapped.date) == (original.title, original.issuer, original.date)
    assert len(unwrapped.targets) == len(original.targets)
