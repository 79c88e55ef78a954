"""Reporting calendars by region: which steps a published task has and when they fall due."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

FOLDER = Path(__file__).parent


@lru_cache(maxsize=64)
def calendar_for(region_code: str) -> dict:
    """The region's own calendar file, else its nearest ancestor's by code prefix, else the default."""
    for digits in (12, 9, 6, 4, 2):
        path = FOLDER / f"{region_code[:digits].ljust(12, '0')}.yaml"
        if path.exists():
            return yaml.safe_load(path.read_text(encoding="utf-8"))
    return yaml.safe_load((FOLDER / "default.yaml").read_text(encoding="utf-8"))
