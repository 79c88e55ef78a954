"""Expands the demo registry file into rows: regions, units and unit groups.

Pure: reads plain data, returns plain data; the loader writes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class UnitRow:
    region_code: str
    name: str
    kind: str = "department"
    aliases: list[str] = field(default_factory=list)


@dataclass
class GroupRow:
    region_code: str
    name: str
    aliases: list[str]
    members: list[tuple[str, str]]  # (region_code, unit name)


VILLAGE_SUFFIXES = ("东", "西", "南", "北", "中", "新", "和平", "团结")


def village_rows(township_code: str, township: str, count: int) -> list[dict]:
    """Demo villages of a township (村民委员会, codes 2xx), with rural populations
    between about 600 and 2200 people, so both sides of the 1000-people rule occur."""
    stem = township[:-1]
    return [
        {"code": f"{township_code[:9]}{201 + i:03d}", "name": f"{stem}{VILLAGE_SUFFIXES[i % len(VILLAGE_SUFFIXES)]}村",
         "level": "village", "parent_code": township_code,
         "rural_population": 600 + (int(township_code[6:9]) * 37 + i * 311) % 1600}
        for i in range(count)
    ]


def township_code(county_code: str, index: int, name: str) -> str:
    """乡 get 2xx, 镇 get 1xx, in the order listed."""
    base = 200 if name.endswith("乡") else 100
    return f"{county_code[:6]}{base + index:03d}000"


def _catalogue(entries: list[dict], prefix: str, region_code: str) -> list[UnitRow]:
    return [
        UnitRow(
            region_code,
            e["name"].format(p=prefix),
            e.get("kind", "department"),
            [a.format(p=prefix) for a in e.get("aliases", [])],
        )
        for e in entries
    ]


def _committee_and_government(region_code: str, name: str, short: str | None) -> list[UnitRow]:
    """A government's party committee (党委) and its people's government (人民政府)."""
    if short in ("县", "市", "州"):
        return [
            UnitRow(region_code, f"{name}委", "party_committee", [f"{short}委", f"中共{name}委员会"]),
            UnitRow(region_code, f"{name}人民政府", "government", [f"{short}政府", f"{short}人民政府", f"{name}政府"]),
        ]
    return [
        UnitRow(region_code, f"{name}党委", "party_committee", [f"中共{name}委员会"]),
        UnitRow(region_code, f"{name}人民政府", "township", [f"{name}政府"]),
    ]


def expand(data: dict) -> tuple[list[dict], list[UnitRow], list[GroupRow]]:
    regions: list[dict] = []
    units: list[UnitRow] = []
    groups: list[GroupRow] = []
    for r in data["regions"]:
        code, name, level, prefix = r["code"], r["name"], r["level"], r.get("prefix")
        regions.append({"code": code, "name": name, "level": level, "parent_code": r.get("parent"),
                        "rural_population": None})
        if level == "nation":
            units.append(UnitRow(code, "平台管理办公室", "office"))
        if level == "county":
            units += _catalogue(data["county_departments"], prefix, code)
            units += _committee_and_government(code, name, prefix)
            party, gov = [], []
            for i, t in enumerate(r.get("townships", [])):
                tcode = township_code(code, i, t)
                regions.append({"code": tcode, "name": t, "level": "township", "parent_code": code})
                regions += village_rows(tcode, t, r.get("villages_per_township", 0))
                units += _committee_and_government(tcode, t, None)
                party.append((tcode, f"{t}党委"))
                gov.append((tcode, f"{t}人民政府"))
            departments = [(code, e["name"].format(p=prefix)) for e in data["county_departments"]]
            groups += [
                GroupRow(code, "各乡镇党委、政府", ["各乡镇党委和政府", "各乡镇党委政府", "各乡(镇)党委、政府"], party + gov),
                GroupRow(code, "各乡镇", ["各乡(镇)", "各乡镇人民政府", "各乡镇政府"], gov),
                GroupRow(code, "各乡镇党委", ["各乡(镇)党委"], party),
                GroupRow(code, f"{prefix}巩固脱贫攻坚推进乡村振兴领导小组成员单位", ["领导小组成员单位", "各成员单位"], departments),
            ]
        if level == "city":
            units += _catalogue(data["city_departments"], prefix, code)
            units += _committee_and_government(code, name, prefix)
            party, gov = [], []
            for c in r.get("counties", []):
                regions.append({"code": c["code"], "name": c["name"], "level": "county", "parent_code": code,
                                "rural_population": None})
                units += [
                    UnitRow(c["code"], f"{c['name']}委", "party_committee", [f"中共{c['name']}委员会"]),
                    UnitRow(c["code"], f"{c['name']}人民政府", "government", [f"{c['name']}政府"]),
                ]
                party.append((c["code"], f"{c['name']}委"))
                gov.append((c["code"], f"{c['name']}人民政府"))
            if gov:
                groups += [
                    GroupRow(code, "各县区党委、政府", ["县区党委政府", "各县区党委政府", "各县(区)党委、政府", "县区党委、政府",
                                                      "各县市党委、政府", "各县市党委政府", "各县(市)党委、政府"], party + gov),
                    GroupRow(code, "各县区", ["各县(区)", "各县市", "各县(市)", "各县(市、区)", "各县市区"], gov),
                    GroupRow(code, "各县区党委", ["各县(区)党委", "各县市党委"], party),
                ]
    for region_code, extras in (data.get("extra_units") or {}).items():
        units += [UnitRow(region_code, e["name"], e.get("kind", "department"), e.get("aliases", [])) for e in extras]
    return regions, units, groups
