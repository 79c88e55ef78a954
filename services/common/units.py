"""The unit registry: regions with their codes, units with aliases, and groups.

Region codes are the 12-digit statistical codes; a region's jurisdiction is every
code that starts with its significant prefix (2 digits for a province, 4 for a
city, 6 for a county, 9 for a township, all 12 for a village).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

LEVEL_PREFIX = {"nation": 0, "province": 2, "city": 4, "county": 6, "township": 9, "village": 12}
LEVEL_LABELS = {"nation": "全国", "province": "省", "city": "市(州)", "county": "县(市、区)", "township": "乡(镇)", "village": "村"}


def jurisdiction_prefix(region_code: str, level: str) -> str:
    return region_code[: LEVEL_PREFIX[level]]


def code_prefix(region_code: str) -> str:
    """The significant prefix of a code whose level is not at hand: the shortest
    standard length (2, 4, 6, 9, 12) after which only zeros follow."""
    for n in (0, 2, 4, 6, 9, 12):
        if set(region_code[n:]) <= {"0"}:
            return region_code[:n]
    return region_code


def region_chain(region_code: str) -> list[str]:
    """The region and its ancestors as 12-digit codes, most specific first, then `default`:
    where configuration by region (rule files, scoring schemes, case rules) is looked up."""
    code = str(region_code).strip()
    if code == "default":
        return ["default"]
    if not code.isdigit() or len(code) not in (2, 4, 6, 9, 12):
        raise ValueError(f"区划代码 {region_code!r} 应为2、4、6、9或12位数字")
    chain: list[str] = []
    for digits in (12, 9, 6, 4, 2):
        candidate = code.ljust(12, "0")[:digits].ljust(12, "0")
        if candidate not in chain:
            chain.append(candidate)
    return chain + ["default"]


def normalize_name(name: str) -> str:
    """The form names are compared in: full-width brackets and spaces folded."""
    return (
        name.strip()
        .replace("（", "(")
        .replace("）", ")")
        .replace(" ", "")
        .replace("\u3000", "")
    )


@dataclass(frozen=True)
class ResolvedName:
    """What one written unit name stands for in a region's registry."""

    written: str
    unit_ids: tuple[int, ...]  # one unit, or every member of a group
    kind: str  # "unit", "group" or "unknown" (proposed as a new unit)


def resolve_names(conn: psycopg.Connection, region_code: str, names: list[str]) -> list[ResolvedName]:
    """Resolve names as written against the units and groups visible from a region.

    A name matches a unit's name or alias, or a group's name or alias, in the region
    itself or any region above it (a county document may name a 州 department).
    Names nobody knows come back as "unknown", never dropped.
    """
    ancestors = [
        r["code"]
        for r in conn.execute(
            """WITH RECURSIVE up AS (
                   SELECT code, parent_code FROM common.regions WHERE code = %s
                   UNION ALL SELECT r.code, r.parent_code FROM common.regions r JOIN up ON r.code = up.parent_code)
               SELECT code FROM up""",
            (region_code,),
        )
    ]
    out = []
    for written in names:
        key = normalize_name(written)
        unit = conn.execute(
            """SELECT id FROM common.units WHERE region_code = ANY(%s) AND (name = %s OR %s = ANY(aliases))
               ORDER BY array_position(%s::text[], region_code) LIMIT 1""",
            (ancestors, key, key, ancestors),
        ).fetchone()
        if unit:
            out.append(ResolvedName(written, (unit["id"],), "unit"))
            continue
        group = conn.execute(
            """SELECT g.id, array_agg(m.unit_id ORDER BY m.unit_id) AS members FROM common.unit_groups g
               JOIN common.unit_group_members m ON m.group_id = g.id
               WHERE g.region_code = ANY(%s) AND (g.name = %s OR %s = ANY(g.aliases))
               GROUP BY g.id ORDER BY array_position(%s::text[], min(g.region_code)) LIMIT 1""",
            (ancestors, key, key, ancestors),
        ).fetchone()
        if group:
            out.append(ResolvedName(written, tuple(group["members"]), "group"))
        else:
            out.append(ResolvedName(written, (), "unknown"))
    return out


def known_names(conn: psycopg.Connection, region_code: str) -> set[str]:
    """Every unit name and alias visible from a region (its own and those above it):
    lets the parser split names a table cell ran together."""
    rows = conn.execute(
        """WITH RECURSIVE up AS (
               SELECT code, parent_code FROM common.regions WHERE code = %s
               UNION ALL SELECT r.code, r.parent_code FROM common.regions r JOIN up ON r.code = up.parent_code)
           SELECT name, aliases FROM common.units WHERE region_code IN (SELECT code FROM up)""",
        (region_code,),
    ).fetchall()
    names: set[str] = set()
    for r in rows:
        name, aliases = (r["name"], r["aliases"]) if isinstance(r, dict) else r
        names.add(name)
        names.update(aliases)
    return names
