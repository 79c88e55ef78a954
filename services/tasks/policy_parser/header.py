"""Title, issuer and date of a document.

Published notices wrap the policy itself (``关于印发《…》的通知``, a signature
block, sometimes a drafting note), so the title is the last title-like line
before the chapter holding the first measure; the issuer is the signature
above the standalone date line, falling back to the web page's metadata.
"""

from __future__ import annotations

import re

from .structure import cn_to_int, is_title_line, match_marker

_DATE_LINE = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日$|^((?:19|20)\d{2})(\d{2})(\d{2})$")
_CN_DATE_LINE = re.compile(r"^([〇零一二三四五六七八九]{4})年([一二三四五六七八九十]{1,3})月([一二三四五六七八九十]{1,3})日$")
_ISO_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_ORG_LINE = re.compile(r"(领导小组|办公室|人民政府|政府|委员会|党委|局|委|办|厅|部|小组|中心|公司|集团|院|会|署|处|所|站|队|室)$")
_YEAR_PAREN = re.compile(r"^\(?[^()]*\d{4}[^()]*\)$")
_META_ISSUER = ("发布机构", "发文机关", "发文单位", "发布单位", "所属机构", "信息来源", "来源")
_META_DATE = ("成文日期", "生效日期", "生成日期", "发布日期", "发布时间", "公开日期")


def find_title(lines: list[str], limit: int) -> str | None:
    best = None
    for i, line in enumerate(lines[:limit]):
        if is_title_line(line):
            best = i
    if best is None:
        first = lines[0] if lines else ""
        return first if first and len(first) <= 60 and "。" not in first and not match_marker(first) else None
    title = lines[best]
    head = lines[best - 1] if best > 0 else ""
    if head and len(head) <= 30 and not re.search(r"[。,:;()]", head) and not (
        _date_line(head) or _is_org(head) or is_title_line(head) or match_marker(head)
    ):
        title = head + title
    for extra in lines[best + 1 : best + 3]:
        if not _YEAR_PAREN.match(extra):
            break
        title += extra
    return title


def _date_line(line: str) -> str | None:
    m = _DATE_LINE.match(line)
    if m:
        y, mo, d = (int(g) for g in m.groups() if g)
    else:
        m = _CN_DATE_LINE.match(line)
        if not m:
            return None
        y = int("".join(str(cn_to_int(ch)) for ch in m.group(1)))
        mo, d = cn_to_int(m.group(2)), cn_to_int(m.group(3))
    return f"{y:04d}-{mo:02d}-{d:02d}" if 1 <= mo <= 12 and 1 <= d <= 31 else None


def _is_org(line: str) -> bool:
    return len(line) <= 40 and not re.search(r"[。,:;!?]", line) and bool(_ORG_LINE.search(line)) and not match_marker(line)


def find_issuer_and_date(lines: list[str], meta: dict[str, str], title: str | None) -> tuple[str | None, str | None]:
    issuer = date = None
    for i, line in enumerate(lines):
        date = _date_line(line)
        if date:
            orgs = []
            j = i - 1
            while j >= 0 and len(orgs) < 3 and _is_org(lines[j]):
                orgs.insert(0, lines[j])
                j -= 1
            issuer = "、".join(orgs) or None
            break
    if date is None:
        for key in _META_DATE:
            m = _ISO_DATE.search(meta.get(key, ""))
            if m:
                date = "{:04d}-{:02d}-{:02d}".format(*(int(g) for g in m.groups()))
                break
    if issuer is None:
        issuer = next((meta[k] for k in _META_ISSUER if meta.get(k)), None)
    if issuer is None and title:
        m = re.match(r"^(.{2,30}?)关于", title)
        if m and _is_org(m.group(1)):
            issuer = m.group(1)
    return issuer, date
