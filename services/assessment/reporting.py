"""Scores and bulletins from the ledger: the I/O around the pure scoring and the
bulletin assembly, inside the caller's transaction."""

from __future__ import annotations

import re

import psycopg

from services.assessment import bulletins
from services.assessment import repository as repo
from services.assessment.model import UnitScore
from services.assessment.schemes import load_scheme
from services.assessment.scoring import score_units
from services.common.units import code_prefix

PERIOD_KINDS = (
    (re.compile(r"^\d{4}-(0[1-9]|1[0-2])$"), "monthly"),
    (re.compile(r"^\d{4}-Q[1-4]$"), "quarterly"),
    (re.compile(r"^\d{4}-H1$"), "half_year"),
    (re.compile(r"^\d{4}$"), "annual"),
)


def kind_of(period: str) -> str:
    for pattern, kind in PERIOD_KINDS:
        if pattern.match(period):
            return kind
    raise ValueError(f"期间 {period!r} 应写作 2023-05、2023-Q2、2023-H1 或 2023")


def compute_scores(conn: psycopg.Connection, region_code: str, period: str,
                   explain: bool = False) -> tuple[list[UnitScore], list[dict]]:
    """The scores of every unit with facts in the region and period, and the fact rows used;
    with their lines only when `explain` (rankings and bulletins need none)."""
    months = bulletins.periods_of(kind_of(period), period)
    rows = repo.facts(conn, code_prefix(region_code), months)
    units = sorted({r["unit_id"] for r in rows})
    scheme = load_scheme(region_code, period)
    return score_units(repo.as_facts(rows), scheme, period, units, explain=explain), rows


def generate(conn: psycopg.Connection, *, kind: str, region_code: str, period: str, generated_by: str) -> int:
    """Produce (or produce again) a bulletin and store it; returns its id."""
    if kind_of(period) != kind:
        raise ValueError(f"{bulletins.KIND_TITLES[kind]}的期间写法不对: {period}")
    region = repo.region(conn, region_code)
    if region is None:
        raise ValueError(f"区划 {region_code} 不存在")
    scores, rows = compute_scores(conn, region_code, period)
    names = repo.unit_names(conn, sorted({r["unit_id"] for r in rows}))
    b = bulletins.assemble(kind, region["name"], period, rows, names, scores)
    return repo.save_bulletin(conn, kind=kind, region_code=region_code, period=period, title=b.title,
                              data=bulletins.to_data(b), html=bulletins.render_html(b), xlsx=bulletins.render_xlsx(b),
                              generated_by=generated_by)
