"""Imports and publishes the five seed documents under their regions, so the
inboxes have work on the first start. Runs once per document (by content hash)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import psycopg

from services.common.auth import load_principal
from services.tasks import policies
from services.tasks import policy_repository as repo

log = logging.getLogger(__name__)

SEEDS = Path(__file__).with_name("seeds")

# seed file prefix -> (region code, the office user who imports it)
SEED_REGIONS = {
    "000": ("532325000000", "yaoan_office"),
    "001": ("621000000000", "qingyang_office"),
    "002": ("532399000000", "mouxian_office"),
    "003": ("532800000000", "xsbn_office"),
    "004": ("620400000000", "baiyin_office"),
}


def load_seed_policies(conn: psycopg.Connection) -> list[dict]:
    """Upload, confirm proposed units as new units, and publish each seed not yet imported."""
    done = []
    for path in sorted(SEEDS.glob("*.txt")):
        region_code, username = SEED_REGIONS[path.name[:3]]
        content = path.read_bytes()
        if repo.find_by_sha(conn, region_code, hashlib.sha256(content).hexdigest()):
            continue
        user = conn.execute("SELECT id FROM common.users WHERE username = %s", (username,)).fetchone()
        actor = load_principal(conn, user["id"])
        draft = policies.upload(conn, actor=actor, region_code=region_code, filename=path.name, content=content,
                                request_id="demo")
        for name in draft["proposed_units"]:
            policies.confirm_unit(conn, actor=actor, document_id=draft["id"], name=name, unit_id=None,
                                  kind="department", request_id="demo")
        result = policies.publish(conn, actor=actor, document_id=draft["id"], request_id="demo")
        log.info("seed %s: %d measures, %d new units, %d tasks published", path.name, draft["measure_count"],
                 len(draft["proposed_units"]), result["tasks_created"])
        done.append({"file": path.name, "tasks": result["tasks_created"], "new_units": draft["proposed_units"]})
    return done
