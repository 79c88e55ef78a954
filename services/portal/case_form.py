"""The forms of a case's actions (预警个案) read into the alerts API's bodies.

What must be filled in is said here, in Chinese and beside its field, before anything
is sent; the API's own rules (dates, the catalogue, the units, the stage, who may act)
answer the rest with their reasons."""

from __future__ import annotations

import re
from collections.abc import Mapping

from services.portal.backend import ApiError

# portal action → (API route, what the banner says when it went through)
ACTIONS = {
    "verify": ("verify", "核查记录已登记"),
    "confirm": ("confirm", "已认定纳入监测"),
    "reject": ("reject", "已不予认定,个案结案"),
    "plan": ("plan", "帮扶计划已制定,各项措施已进入责任单位待办"),
    "visit": ("visit", "回访已登记"),
    "eliminate": ("eliminate", "已确认风险消除"),
    "keep-monitoring": ("keep-monitoring", "已决定继续监测"),
}
FLAGS = {"compulsory_education_ok": "义务教育", "basic_medical_ok": "基本医疗", "housing_ok": "住房安全",
         "drinking_water_ok": "饮水安全"}
MEASURE_ROWS = 3  # blank measure lines the plan form offers
MAX_MEASURES = 20  # as many as the API takes in one plan
_NAME_SEPARATORS = re.compile(r"[、,,;;\s]+")


def _missing(field: str, message: str) -> ApiError:
    return ApiError(422, message, {field: message})


def _text(form: Mapping, name: str) -> str:
    return str(form.get(name) or "").strip()


def names(text: str) -> list[str]:
    """People typed as `张三、村支书李四` (also commas, spaces or new lines)."""
    return [n for n in _NAME_SEPARATORS.split(text) if n]


def verify_body(form: Mapping) -> dict:
    """核查: the visit record; photos are added by the page once uploaded."""
    visited_on, visitors, findings = _text(form, "visited_on"), names(_text(form, "visitors")), _text(form, "findings")
    if not visited_on:
        raise _missing("visited_on", "请填写入户核查日期")
    if not visitors:
        raise _missing("visitors", "请填写核查人员")
    if not findings:
        raise _missing("findings", "请填写核查情况")
    return {"visited_on": visited_on, "visitors": visitors, "findings": findings,
            "proposed": _text(form, "proposed") != "no"}


def confirm_body(form: Mapping) -> dict:
    kind = _text(form, "monitoring_kind")
    if not kind:
        raise _missing("monitoring_kind", "请选择监测对象类型")
    return {"monitoring_kind": kind}


def reason_body(form: Mapping) -> dict:
    """不予认定, 继续监测: the reason is required."""
    reason = _text(form, "reason")
    if not reason:
        raise _missing("reason", "请写明理由")
    return {"reason": reason}


def plan_body(form) -> dict:
    """帮扶计划: the measure lines filled in (a line left blank is skipped, a line half filled is refused)."""
    lines = zip(form.getlist("kind"), form.getlist("unit_id"), form.getlist("due_date"), form.getlist("content"))
    measures = []
    for n, (kind, unit_id, due_date, content) in enumerate(lines, start=1):
        kind, unit_id, due_date, content = (str(v or "").strip() for v in (kind, unit_id, due_date, content))
        if not (kind or unit_id or due_date or content):
            continue
        for value, field, what in ((kind, "kind", "选择措施类型"), (unit_id, "unit_id", "选择责任单位"),
                                   (due_date, "due_date", "填写完成时限"), (content, "content", "填写措施内容")):
            if not value:
                raise _missing(field, f"第{n}项措施请{what}")
        if not unit_id.isdigit():
            raise _missing("unit_id", f"第{n}项措施请从列表中选择责任单位")
        measures.append({"kind": kind, "unit_id": int(unit_id), "due_date": due_date, "content": content})
    if not measures:
        raise _missing("measures", "请至少填写一项帮扶措施")
    return {"measures": measures}


def visit_body(form: Mapping) -> dict:
    """回访: income and whether 三保障 and drinking water are secured."""
    visited_on, income = _text(form, "visited_on"), _text(form, "income")
    if not visited_on:
        raise _missing("visited_on", "请填写回访日期")
    if not income:
        raise _missing("income", "请填写家庭人均纯收入(元)")
    try:
        amount = float(income)
    except ValueError:
        raise _missing("income", "家庭人均纯收入请填写数字(元)") from None
    body = {"visited_on": visited_on, "income": amount, "note": _text(form, "note")}
    for name, label in FLAGS.items():
        answer = _text(form, name)
        if answer not in ("是", "否"):
            raise _missing(name, f"请选择{label}是否有保障")
        body[name] = answer == "是"
    return body


def eliminate_body(form: Mapping) -> dict:
    return {"note": _text(form, "note")}


READERS = {"verify": verify_body, "confirm": confirm_body, "reject": reason_body, "plan": plan_body,
           "visit": visit_body, "eliminate": eliminate_body, "keep-monitoring": reason_body}
