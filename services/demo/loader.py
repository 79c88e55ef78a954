"""Loads the demo registry and demo users; safe to run on every start."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
import yaml
from psycopg.rows import dict_row

from services.common.config import get_settings
from services.common.units import normalize_name
from services.demo.households import load_households
from services.demo.policies import load_seed_policies
from services.demo.registry import expand
from services.tasks.identity import create_user

log = logging.getLogger(__name__)

REGISTRY_FILE = Path(__file__).with_name("registry.yaml")


def load_registry(conn: psycopg.Connection, data: dict) -> None:
    regions, units, groups = expand(data)
    for r in regions:
        conn.execute(
            """INSERT INTO common.regions (code, name, level, parent_code, rural_population)
               VALUES (%(code)s, %(name)s, %(level)s, %(parent_code)s, %(rural_population)s)
               ON CONFLICT (code) DO NOTHING""",
            {"rural_population": None, **r},
        )
    for u in units:
        conn.execute(
            """INSERT INTO common.units (name, aliases, kind, region_code) VALUES (%s, %s, %s, %s)
               ON CONFLICT (region_code, name) DO NOTHING""",
            (normalize_name(u.name), [normalize_name(a) for a in u.aliases], u.kind, u.region_code),
        )
    for g in groups:
        group_id = conn.execute(
            """INSERT INTO common.unit_groups (name, aliases, region_code) VALUES (%s, %s, %s)
               ON CONFLICT (region_code, name) DO UPDATE SET aliases = EXCLUDED.aliases RETURNING id""",
            (normalize_name(g.name), [normalize_name(a) for a in g.aliases], g.region_code),
        ).fetchone()["id"]
        for region_code, name in g.members:
            conn.execute(
                """INSERT INTO common.unit_group_members (group_id, unit_id)
                   SELECT %s, id FROM common.units WHERE region_code = %s AND name = %s
                   ON CONFLICT DO NOTHING""",
                (group_id, region_code, normalize_name(name)),
            )


def load_users(conn: psycopg.Connection, users: list[dict], password: str) -> list[str]:
    created = []
    for u in users:
        if conn.execute("SELECT 1 FROM common.users WHERE username = %s", (u["username"],)).fetchone():
            continue
        unit = conn.execute(
            "SELECT id FROM common.units WHERE region_code = %s AND (name = %s OR %s = ANY(aliases))",
            (u["unit"]["region"], u["unit"]["name"], u["unit"]["name"]),
        ).fetchone()
        if unit is None:
            raise ValueError(f"demo user {u['username']}: unit {u['unit']} not in the registry")
        create_user(
            conn, actor=None, username=u["username"], full_name=u["full_name"], unit_id=unit["id"],
            roles=u["roles"], password=password, request_id="demo",
        )
        created.append(u["username"])
    return created


def load_demo(dsn: str | None = None, with_policies: bool = True) -> dict:
    """Load (or top up) the demo registry, users, seed policies and a synthetic county's
    households, each in its own transaction (`with_policies=False`: registry and users only)."""
    data = yaml.safe_load(REGISTRY_FILE.read_text(encoding="utf-8"))
    with psycopg.connect(dsn or get_settings().dsn, row_factory=dict_row) as conn:
        load_registry(conn, data)
        created = load_users(conn, data["users"], get_settings().demo_password)
        conn.commit()
        policies = load_seed_policies(conn) if with_policies else []
        conn.commit()
        households = load_households(conn) if with_policies else 0
        counts = conn.execute(
            """SELECT (SELECT count(*) FROM common.regions) AS regions, (SELECT count(*) FROM common.units) AS units,
                      (SELECT count(*) FROM common.users) AS users"""
        ).fetchone()
    log.info("demo data: %s; users created now: %s", counts, created or "none")
    return {**counts, "users_created": created, "policies_published": policies, "households_created": households}
