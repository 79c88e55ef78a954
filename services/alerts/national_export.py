"""The household and alert lists with the national monitoring system's column names, so
officials can carry results back to it (and the household list reads back through
the importer as a 监测对象信息 export). Pure: rows in, workbook bytes out, written in
write-only mode so a county's register never sits in memory as cells.

The layout is the export's own: two title rows, the header on row 3, one row per
person; 是/否 for flags, YYYYMM for months, comma-joined 帮扶 items.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill

from services.alerts.model import MONITORED
from services.alerts.national_columns import ASSISTANCE
from services.alerts.validation import mask_id, mask_phone

TZ = ZoneInfo("Asia/Shanghai")
PERSON_HEADERS = ("县", "乡", "村", "户编号", "姓名", "证件号码", "证件类型", "与户主关系", "家庭成员联系电话", "户类型",
                  "监测对象类别", "识别监测时间", *(f"致贫/返贫风险{i}" for i in range(1, 6)), "整户无劳动能力兜底保障户",
                  "风险是否已消除", "风险消除方式", "消除监测时间", "健康状况", "劳动技能", "收支年度", "工资性收入",
                  "生产经营性收入", "财产性收入", "转移性收入", "人均纯收入（元）", "合规自付支出",
                  "是否义务教育阶段适龄儿童少年失学辍学", "是否危房户", "是否解决安全饮用水",
                  "是否有家庭成员未参加城乡居民（职工）基本医疗保险", *ASSISTANCE)
ALERT_HEADERS = ("县", "乡", "村", "户编号", "户主姓名", "监测对象类别", "预警期间", "预警规则", "致贫/返贫风险",
                 "预警级别", "状态", "首次发现时间", "最近发现时间", "依据")
# An alert's cause as the national system names the risk.
CAUSE_RISKS = {"medical": "因病", "education": "因学", "housing": "因安全住房", "water": "因安全饮水",
               "employment": "因务工就业不稳", "disaster": "因自然灾害", "income": "收入骤减或支出骤增"}
SEVERITIES = {"info": "提示", "warning": "预警", "critical": "严重"}
STATUSES = {"firing": "预警中", "inhibited": "已抑制", "silenced": "已静默", "resolved": "已解除"}


def _yes_no(v: bool | None, negate: bool = False) -> str | None:
    return None if v is None else ("是" if (not v if negate else v) else "否")


def _month(v: str | None) -> str | None:
    return v.replace("-", "") if v else None


def _money(v) -> float | None:
    return float(v) if isinstance(v, Decimal) else v


def person_row(r: dict, unmasked: bool) -> list:
    monitored = r["category"] in MONITORED
    risks = list(r["risks"] or [])
    measures = r["measures"] or {}
    return [
        r["county"], r["township"], r["village"], r["household_no"], r["name"],
        r["id_number"] if unmasked else mask_id(r["id_number"]), r["id_type"], r["relation"],
        r["phone"] if unmasked else mask_phone(r["phone"]), None if monitored else r["category"],
        r["monitoring_category"] or (r["category"] if monitored else None), _month(r["identified_month"]),
        *(risks[i] if i < len(risks) else None for i in range(5)), _yes_no(r["no_labour_capacity"]),
        _yes_no(r["risk_eliminated"]), r["elimination_method"], _month(r["eliminated_month"]), r["health"],
        r["labour_skill"], r["period"], *(_money(r[k]) for k in ("wage_income", "business_income", "property_income",
                                                                  "transfer_income", "per_capita_income",
                                                                  "medical_expense")),
        _yes_no(r["compulsory_education_ok"], negate=True), _yes_no(r["housing_ok"], negate=True),
        _yes_no(r["drinking_water_ok"]), _yes_no(r["basic_medical_ok"], negate=True),
        *(",".join(measures.get(name, [])) or None for name in ASSISTANCE),
    ]


def alert_row(r: dict) -> list:
    return [r["county"], r["township"], r["village"], r["household_no"] or r["subject_key"], r["head_name"],
            r["category"] if r["category"] in MONITORED else None, r["period"], r["rule_name"],
            CAUSE_RISKS.get(r["cause"]), SEVERITIES.get(r["severity"], r["severity"]),
            STATUSES.get(r["status"], r["status"]), _local(r["first_seen_at"]), _local(r["last_seen_at"]), r["source"]]


def _local(t: datetime | None) -> datetime | None:
    return t.astimezone(TZ).replace(tzinfo=None) if t else None


def workbook(title: str, subtitle: str, headers: Iterable[str], rows: Iterable[list]) -> bytes:
    """Title rows, the header on row 3, then the rows, streamed into a write-only workbook."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    ws.freeze_panes = "A4"
    ws.append([title])
    ws.append([subtitle])
    head = []
    for h in headers:
        cell = WriteOnlyCell(ws, h)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        head.append(cell)
    ws.append(head)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def persons_workbook(rows: Iterable[dict], region: str, unmasked: bool = False) -> bytes:
    now = datetime.now(TZ)
    return workbook("监测对象信息", f"{region}  导出时间:{now:%Y-%m-%d %H:%M}"
                    + ("" if unmasked else "  (证件号码、电话已脱敏)"), PERSON_HEADERS,
                    (person_row(r, unmasked) for r in rows))


def alerts_workbook(rows: Iterable[dict], region: str) -> bytes:
    now = datetime.now(TZ)
    return workbook("预警信息", f"{region}  导出时间:{now:%Y-%m-%d %H:%M}", ALERT_HEADERS, (alert_row(r) for r in rows))
