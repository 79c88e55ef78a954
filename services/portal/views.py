"""What every page shares: the signed-in user, the navigation for their roles,
rendering with the error banner, paging and the Chinese formatting of values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

from fastapi import Request
from fastapi.templating import Jinja2Templates

from services.portal.backend import ApiError, Backend

TOKEN_COOKIE = "xianjie_token"
PAGE_SIZE = 20
CHINA = timezone(timedelta(hours=8))
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

# (path, label, roles that see it, what it is for): the navigation and the home page's cards.
NAV = (
    ("/inbox", "待办", {"unit_staff", "unit_head"}, "签收任务、报送月报季报、申请延期"),
    ("/reviews", "待审核", {"office_admin"}, "各单位已报送的材料和延期申请:审核通过、退回或决定延期"),
    ("/policies", "政策文件", {"office_admin"}, "上传政策文件,审核解析出的措施,发布为任务"),
    ("/progress", "办理进度", {"office_admin", "leader"}, "按文件和单位查看办结、逾期与按时率"),
    ("/escalations", "督办批示", {"office_admin", "leader", "unit_head"}, "逾期升级的督办事项,领导批示"),
    ("/overview", "排名与红旗", {"office_admin", "leader"}, "各单位考核排名、红旗单位与得分说明"),
    ("/bulletins", "通报", {"office_admin", "leader"}, "月通报、季度分析等,查看、下载、生成"),
    ("/ledgers", "整改台账", {"office_admin", "leader"}, "巡视、审计反馈问题的整改台账,导入、发布、导出"),
    ("/users", "用户与单位", {"office_admin"}, "本辖区的用户和单位名录"),
    ("/audit", "审计日志", {"office_admin"}, "谁在何时做了什么"),
    ("/households", "农户", {"data_entry", "office_admin"}, "农户名单与各期数据(证件号已脱敏)"),
    ("/households/import", "批量导入", {"data_entry", "office_admin"}, "下载模板,上传 Excel 批量导入农户"),
    ("/rules", "预警规则", {"office_admin", "leader"}, "生效的监测预警规则及其依据,静默"),
    ("/alerts", "预警", {"office_admin", "leader", "data_entry", "unit_staff", "unit_head"}, "防返贫监测预警"),
    ("/cases", "预警个案", {"office_admin", "leader", "data_entry", "unit_staff", "unit_head"},
     "预警户的核查、认定、帮扶与回访,各环节期限"),
    ("/cases/townships", "个案分布", {"office_admin", "leader"}, "各乡镇预警个案数:正常、临期、逾期、督办"),
    ("/notifications", "通知", {"office_admin", "leader", "unit_staff", "unit_head", "data_entry", "ops"},
     "提醒、退回、批示等通知"),
)


@dataclass
class User:
    token: str
    me: dict

    @property
    def roles(self) -> set[str]:
        return set(self.me.get("roles", []))

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    @property
    def nav(self) -> list[dict]:
        return [{"path": p, "label": label, "about": about} for p, label, roles, about in NAV if self.roles & roles]


def backend(request: Request) -> Backend:
    return request.app.state.backend


def current_user(request: Request) -> User:
    """The signed-in user from the login cookie (LoginRequired when there is none or it expired)."""
    token = request.cookies.get(TOKEN_COOKIE)
    me = backend(request).get("tasks", "/api/me", token)
    return User(token=token, me=me)


def render(request: Request, template: str, user: User | None, status_code: int = 200, **context):
    """A page; `error` (an ApiError or text) becomes the red banner, `notice` the green one."""
    error = context.pop("error", None)
    context["error"] = error.message if isinstance(error, ApiError) else error
    context["notice"] = context.get("notice") or request.query_params.get("notice")
    return templates.TemplateResponse(request, template, {"user": user, **context}, status_code=status_code)


def page_links(request: Request, total: int, limit: int, offset: int) -> dict:
    """Previous/next links that keep the other query parameters."""
    def link(new_offset: int) -> str:
        params = {k: v for k, v in request.query_params.items() if k not in ("offset", "notice")}
        params["offset"] = str(new_offset)
        return f"{request.url.path}?{urlencode(params)}"

    return {
        "total": total, "from": offset + 1 if total else 0, "to": min(offset + limit, total),
        "prev": link(max(offset - limit, 0)) if offset > 0 else None,
        "next": link(offset + limit) if offset + limit < total else None,
    }


def local_time(value: str | None) -> str:
    """ISO timestamp → `2023-05-06 14:30` in China time (the API speaks UTC)."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def deadline(value: str | None) -> str:
    """A deadline as people say it: the midnight after a due day is `2023-05-06 24:00`, not the next day's 00:00."""
    shown = local_time(value)
    if not shown.endswith(" 00:00"):
        return shown
    day = date.fromisoformat(shown[:10]) - timedelta(days=1)
    return f"{day.isoformat()} 24:00"


def local_date(value: str | None) -> str:
    return local_time(value)[:10] if value and "T" in value else (value or "")


def percent(ratio: float | None) -> str:
    """A ratio (按时率 = 按时 / 已到期) as a percentage."""
    return "—" if ratio is None else f"{ratio * 100:.1f}%"


def yes_no(value: bool | None) -> str:
    return {True: "是", False: "否"}.get(value, "—")


def this_year() -> int:
    return date.today().year


templates.env.filters.update(time=local_time, date=local_date, deadline=deadline, percent=percent, yes_no=yes_no)
