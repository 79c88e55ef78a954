"""Where the seed documents are: XIANJIE_SEEDS_DIR, else shared/seeds next to the repo,
else the copies the demo ships in services/demo/seeds (so a clone alone runs every test)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SEED_COUNTS = {"000": 23, "001": 28, "002": 6, "003": 8, "004": 22}
EXPECTED_DIR = Path(__file__).resolve().parent / "expected"


REPO = Path(__file__).resolve().parents[3]


def seeds_dir() -> Path:
    override = os.environ.get("XIANJIE_SEEDS_DIR")
    if override:
        return Path(override)
    shared = REPO.parent / "shared" / "seeds"
    return shared if shared.is_dir() else REPO / "services" / "demo" / "seeds"


def seed_path(number: str) -> Path:
    """The seed file ``NNN_*.txt``; skips the calling test (with the reason printed) when absent."""
    directory = seeds_dir()
    matches = sorted(directory.glob(f"{number}_*.txt")) if directory.is_dir() else []
    if not matches:
        reason = f"seed {number} not found in {directory} (set XIANJIE_SEEDS_DIR to the seeds directory)"
        print(reason)
        pytest.skip(reason)
    return matches[0]
