"""The villages an import file may name: found by their 12-digit code or by name
within the uploader's jurisdiction, the township and county telling namesakes apart."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg


_PLACE_SUFFIXES = ("村民委员会", "居民委员会", "村委会", "居委会", "街道办事处", "街道", "社区", "村", "镇", "乡", "县", "区", "市")


def place_stem(name: str) -> str:
    s = re.sub(r"[\s\u3000]", "", unicodedata.normalize("NFKC", name))
    for suffix in _PLACE_SUFFIXES:
        if s.endswith(suffix) and len(s) > len(suffix) + 1:
            return s[: -len(suffix)]
    return s


def same_place(written: str, name: str) -> bool:
    return place_stem(written) == place_stem(name)


@dataclass(frozen=True)
class Village:
    code: str
    name: str
    township_code: str
    township: str
    county_code: str
    county: str


class PlaceError(ValueError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class Villages:
    """The villages a file may name: those of the uploader's jurisdiction, found by
    code or by name (with the township and county telling namesakes apart).
    `outside` holds codes known to exist outside the jurisdiction."""

    def __init__(self, villages: Iterable[Village], outside: Iterable[str] = ()) -> None:
        self.by_code = {v.code: v for v in villages}
        self.by_stem: dict[str, list[Village]] = defaultdict(list)
        for v in self.by_code.values():
            self.by_stem[place_stem(v.name)].append(v)
        self.outside = set(outside)

    def __len__(self) -> int:
        return len(self.by_code)

    def __iter__(self):
        return iter(sorted(self.by_code.values(), key=lambda v: v.code))

    def resolve(self, code: str | None, name: str | None, township: str | None, county: str | None) -> str:
        if code:
            if not (len(code) == 12 and code.isdigit()):
                return code  # HouseholdIn says what is wrong with it
            v = self.by_code.get(code)
            if v is None:
                if code in self.outside:
                    raise PlaceError("village_code", f"村 {code} 不在您的辖区内 (outside your jurisdiction)")
                raise PlaceError("village_code", f"村区划代码 {code} 不存在 (unknown village)")
            if name and not same_place(name, v.name):
                raise PlaceError("village", f"村“{name}”与村代码 {code}({v.name})不符")
            if township and not same_place(township, v.township):
                raise PlaceError("township", f"乡(镇)“{township}”与村代码 {code} 所在的{v.township}不符")
            if county and not same_place(county, v.county):
                raise PlaceError("county", f"县“{county}”与村代码 {code} 所在的{v.county}不符")
            return code
        if not name:
            raise PlaceError("village", "村和村代码都没有填写 (village missing)")
        found = self.by_stem.get(place_stem(name), [])
        if not found:
            raise PlaceError("village", f"在您的辖区内找不到村“{name}”,请核对村名或填写村代码 (unknown village)")
        narrowed = [v for v in found if (not township or same_place(township, v.township))
                    and (not county or same_place(county, v.county))]
        if not narrowed:
            where = "、".join(f"{v.township}{v.name}" for v in found[:5])
            raise PlaceError("township" if township else "county",
                             f"{county or ''}{township or ''}没有村“{name}”(辖区内的同名村:{where})")
        if len(narrowed) > 1:
            where = "、".join(f"{v.county}{v.township}" for v in narrowed[:5])
            raise PlaceError("village", f"有 {len(narrowed)} 个村叫“{name}”({where}),请填写乡(镇)或村代码")
        return narrowed[0].code


def load_villages(conn: psycopg.Connection, prefix: str, mentioned: Iterable[str] = ()) -> Villages:
    """The villages under a jurisdiction prefix ("" for all), and which of the codes
    `mentioned` exist elsewhere (so the error can say "not yours" rather than "unknown")."""
    rows = conn.execute(
        """SELECT v.code, v.name, coalesce(t.code, '') AS township_code, coalesce(t.name, '') AS township,
                  coalesce(c.code, '') AS county_code, coalesce(c.name, '') AS county
           FROM common.regions v LEFT JOIN common.regions t ON t.code = v.parent_code
           LEFT JOIN common.regions c ON c.code = substr(v.code, 1, 6) || '000000'
           WHERE v.level = 'village' AND v.code LIKE %s ORDER BY v.code""",
        (prefix + "%",),
    ).fetchall()
    mentioned = [c for c in mentioned if not c.startswith(prefix)]
    outside = [r["code"] for r in conn.execute(
        "SELECT code FROM common.regions WHERE level = 'village' AND code = ANY(%s)", (mentioned,))] if mentioned else []
    return Villages((Village(**r) for r in rows), outside)
