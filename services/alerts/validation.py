"""Checks on what data-entry staff type, with messages in Chinese naming the field,
and the masking of ID numbers and phones in everything the system shows."""

from __future__ import annotations

import re
from datetime import date

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
ID18 = re.compile(r"^\d{17}[\dX]$")
DISABILITY_CERT = re.compile(r"^\d{17}[\dX]\d{2}([A-Z]\d)?$")  # 残疾人证: ID + 类别 + 等级 (20 or 22 characters)


def id_number_problem(value: str) -> str | None:
    """Why a resident ID number (居民身份证号码, GB 11643) is wrong, or None."""
    v = value.strip().upper()
    if not ID18.match(v):
        return "身份证号码应为18位(前17位数字,末位数字或X)"
    try:
        date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return "身份证号码中的出生日期不存在"
    total = sum(int(c) * w for c, w in zip(v[:17], ID_WEIGHTS))
    if ID_CHECK[total % 11] != v[17]:
        return "身份证号码校验位不正确"
    return None


def certificate_problem(value: str, id_type: str) -> str | None:
    """Resident IDs are checked fully; a disability certificate (残疾人证, 20/22 characters)
    must start with a valid resident ID."""
    v = value.strip().upper()
    if id_type == "残疾人证" or len(v) in (20, 22):
        if not DISABILITY_CERT.match(v):
            return "残疾人证号应为20或22位(身份证号加残疾类别和等级)"
        return id_number_problem(v[:18])
    return id_number_problem(v)


def mask_id(value: str | None) -> str | None:
    """`5323**********1234`: the first four and the last four characters stay."""
    if not value:
        return value
    return value[:4] + "*" * max(0, len(value) - 8) + value[-4:] if len(value) > 8 else "*" * len(value)


def mask_phone(value: str | None) -> str | None:
    if not value:
        return value
    return value[:3] + "*" * max(0, len(value) - 7) + value[-4:] if len(value) > 7 else "*" * len(value)
