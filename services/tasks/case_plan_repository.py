"""SQL of the 一户一策 plans of alert cases on the tasks side: the plan is a document of
kind 'case_plan' whose measures are tasks (migration 008), so each measure's step sits
in its department's inbox with the lifecycle of every step. Written by the case
workflow's activity in its transaction; never commits."""

from __future__ import annotations

import hashlib

import orjson
import psycopg
from psycopg.types.json import Jsonb


def insert_plan_document(conn: psycopg.Connection, *, region_code: str, title: str, plan: dict,
                         uploaded_by: int, doc_date: str) -> int:
    """The published document the plan's measure tasks belong to; the plan as JSON is its content."""
    content = orjson.dumps(plan, option=orjson.OPT_INDENT_2)
    return conn.execute(
        """INSERT INTO tasks.policy_documents (region_code, title, issuer, doc_date, filename, content_type, content,
                                               content_sha256, parsed, status, uploaded_by, kind, published_at)
           VALUES (%s, %s, NULL, %s, %s, 'application/json', %s, %s, %s, 'published', %s, 'case_plan', now())
           RETURNING id""",
        (region_code, title, doc_date, f"帮扶计划-{plan['case_id']}-{plan['run']}.json", content,
         hashlib.sha256(content).hexdigest(), Jsonb({"kind": "case_plan", "case_id": plan["case_id"],
                                                     "run": plan["run"], "measures": []}), uploaded_by),
    ).fetchone()["id"]

