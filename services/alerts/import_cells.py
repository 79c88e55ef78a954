"""Cells as officials write them: 是/否 flags in their many spellings, amounts written
as text (20,000元), periods written 2023年5月, and the ID numbers and codes Excel
stored as numbers (refused when Excel already rounded them)."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any


class CellError(ValueError):
    """A cell that cannot be read as what its column holds."""


_BLANKS = {"", "-", "—", "--", "/", "\\", "无", "空", "null", "none", "nan", "#n/a"}
_TRUE = {"是", "y", "yes", "true", "1", "√", "✓", "✔", "是的"}
_FALSE = {"否", "n", "no", "false", "0", "×", "✗", "✘", "x"}


def fold(v: Any) -> str:
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", str(v)))


def text_value(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = re.sub(r"[\s\u3000]+", " ", str(v)).strip()
    return s or None


def cell_code(v: Any, what: str = "编号") -> str | None:
    """户编号, 村代码: digits kept exactly; a number Excel rounded is refused."""
    if v is None:
        return None
    if isinstance(v, bool):
        raise CellError(f"应为{what},不是“是/否”")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 2**53:
            return str(int(v))
        raise CellError(f"被 Excel 存成了数字,后几位已丢失:请将该列设为文本格式后重新填写 ({v!r})")
    s = fold(v).lstrip("'")
    if re.fullmatch(r"\d(\.\d+)?[eE]\+?\d+", s):
        raise CellError(f"被存成了科学计数法({s}),后几位已丢失:请将该列设为文本格式后重新填写")
    return s or None


def id_value(v: Any) -> str | None:
    if isinstance(v, float) and abs(v) >= 1e15:
        raise CellError("被 Excel 存成了数字,后几位已丢失:请将该列设为文本格式后重新填写证件号码")
    return cell_code(v, "证件号码")


def int_value(v: Any) -> int | None:
    if v is None or isinstance(v, bool):
        if isinstance(v, bool):
            raise CellError("应为整数")
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if v.is_integer():
            return int(v)
        raise CellError(f"应为整数,不能是 {v:g}")
    s = fold(v)
    if s.lower() in _BLANKS:
        return None
    s = re.sub(r"(人|个)$", "", s)
    if re.fullmatch(r"[+-]?\d+(\.0+)?", s):
        return int(float(s))
    raise CellError(f"应为整数,不能是“{v}”")


def money_value(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool):
        raise CellError("应为金额(元)")
    if isinstance(v, (int, float, Decimal)):
        f = float(v)
    else:
        s = fold(v).replace(",", "")
        if s.lower() in _BLANKS:
            return None
        s = re.sub(r"^[¥¥]|(元|块)$", "", s)
        try:
            f = float(s)
        except ValueError:
            raise CellError(f"应为金额(元),不能是“{v}”") from None
    if not math.isfinite(f):
        raise CellError(f"应为金额(元),不能是“{v}”")
    return round(f, 2)


def flag_value(v: Any) -> bool | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    s = fold(v).lower()
    if not s:
        return None
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise CellError(f"应填“是”或“否”,不能是“{v}”")


def period_value(v: Any) -> str | None:
    """2023, 2023-05 as written in the forms in use: 2023年, 2023年5月, 2023.5, 2023/05, 202305, an Excel date."""
    if v is None:
        return None
    if isinstance(v, datetime | date):
        return f"{v.year}-{v.month:02d}"
    if isinstance(v, float):
        if not v.is_integer():
            return repr(v)  # 2023.1 as a number may be October: the schema refuses it, the person rewrites it
        v = int(v)
    s = fold(v)
    if not s:
        return None
    m = re.fullmatch(r"(\d{4})年?度?", s)
    if m:
        return m[1]
    m = re.fullmatch(r"(\d{4})(?:[-/.年])(\d{1,2})(?:月份?)?", s) or re.fullmatch(r"(\d{4})(\d{2})", s)
    if m:
        return f"{m[1]}-{int(m[2]):02d}"
    return s  # the schema says what is wrong with it


def category_value(v: Any) -> str | None:
    s = text_value(v)
    return fold(s) if s else None


CONVERT: dict[str, Callable[[Any], Any]] = {
    "text": text_value, "place": text_value, "code": cell_code, "id": id_value, "phone": lambda v: cell_code(v, "电话号码"),
    "int": int_value, "money": money_value, "flag": flag_value, "period": period_value, "category": category_value,
}
