"""JSON-ready dict of a ``Document`` (field names as in docs/policy-document.schema.json)."""

from __future__ import annotations

from dataclasses import asdict

from .model import Document


def document_to_dict(doc: Document) -> dict:
    return asdict(doc)
