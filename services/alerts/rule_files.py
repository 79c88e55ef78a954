"""Rule files edited by the office through the API.

The repository's files are the base; the latest saved version of each (region,
year) edited through the API takes precedence. Both are laid out as one folder
tree under `var/` (named by a hash of the saved versions), which the ordinary
loader reads, so an edited rule set behaves exactly like a shipped one.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import orjson
import psycopg
import yaml

from services.alerts.rules_loader import RULES_ROOT
from services.common.config import get_settings


def latest_versions(conn: psycopg.Connection) -> list[dict]:
    return conn.execute(
        """SELECT DISTINCT ON (region_code, year) id, region_code, year, data FROM alerts.rule_files
           ORDER BY region_code, year, id DESC"""
    ).fetchall()


def effective_root(conn: psycopg.Connection) -> Path | None:
    """The folder to load rules from: None (the repository's) when nothing was edited."""
    versions = latest_versions(conn)
    if not versions:
        return None
    digest = hashlib.sha256(orjson.dumps([v["id"] for v in versions])).hexdigest()[:16]
    root = get_settings().var_dir / "rules" / digest
    if not root.exists():
        staging = root.with_name(digest + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(RULES_ROOT, staging)
        for v in versions:
            folder = staging / v["region_code"]
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{v['year']}.yaml").write_text(yaml.safe_dump(v["data"], allow_unicode=True), encoding="utf-8")
        staging.rename(root)
    return root
