"""An alert case from household data to the county's decision, in a real browser: the
data-entry clerk saves a period whose income is far below the monitoring line, the
alerts consumer raises the alert and the worker's case starter opens the case
(AlertCaseWorkflow); the township (dongchuan) records its 核查 visit and sends the case
straight to 认定; the office (yaoan_office) confirms it as a 监测对象. On a desktop and on
a phone, with the ID number masked on every page."""

import time

import psycopg

HOUSEHOLD_NO = "5323251002017001"
VILLAGE = "532325100201"  # 栋川镇's first village in the demo registry


def id_number(first17: str) -> str:
    """A resident ID number with its GB 11643 check character."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights)) % 11]


HEAD_ID = id_number("53232519800101123")


def wait_for_case(dsn: str, household_no: str, timeout_s: float = 90) -> int:
    """The case's id once its workflow has started (consumer → alert group → case starter → Temporal)."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                """SELECT c.id FROM alerts.cases c JOIN alerts.households h ON h.id = c.household_id
                   WHERE h.household_no = %s AND c.workflow_started_at IS NOT NULL""", (household_no,)).fetchone()
            if row:
                return row[0]
            time.sleep(0.5)
    raise AssertionError(f"no case with a running workflow for household {household_no} after {timeout_s:.0f} s")


def stage_of(page) -> str:
    return page.inner_text("dt:has-text('当前环节') + dd").strip()


def test_an_alert_case_goes_from_verification_to_the_county_decision(desktop, phone, stack):
    d = desktop
    d.login("dongchuan_entry")
    d.page.goto("/households/new")
    d.fill({"household_no": HOUSEHOLD_NO, "village_code": VILLAGE, "head_name": "钱七", "head_id_number": HEAD_ID,
            "category": "脱贫户", "members": "3", "labourers": "2"})
    d.follow("button:has-text('保存')")
    assert d.banner() == "已保存"
    d.page.fill("#period", "2025")
    d.page.fill("#per_capita_income", "3000")
    d.follow("button:has-text('保存本期数据')")
    assert d.banner() == "2025 的数据已保存"
    case_id = wait_for_case(stack.dsn, HOUSEHOLD_NO)

    d.login("dongchuan")
    d.follow("nav >> text=预警个案")
    d.follow(f"a[href='/cases/{case_id}']")
    assert stage_of(d.page) == "核查"
    assert HEAD_ID not in d.page.inner_text("body"), "the ID number is masked on the case page"
    d.check()
    d.shot("case-verify")

    phone.login("dongchuan")
    phone.page.goto(f"/cases/{case_id}")
    phone.check()
    phone.shot("case-verify")

    d.page.click("button:has-text('提交核查记录')")  # required fields left empty: the browser keeps the form
    assert d.page.evaluate("document.querySelector('#visitors').validity.valueMissing")
    assert stage_of(d.page) == "核查"
    d.page.fill("#visitors", "栋川镇干部张三、村支书李四")
    d.page.fill("#findings", "家中一人患病住院,务工收入中断,人均纯收入约3000元,低于监测线。")
    d.page.select_option("#proposed", "no")
    d.follow("button:has-text('提交核查记录')")
    assert d.page.locator(".banner.notice").count() == 1, "the township is told its record was saved"
    assert stage_of(d.page) == "认定"
    assert "栋川镇干部张三" in d.page.inner_text("main"), "the visit is on the case page"
    d.check()
    assert d.page.locator("button:has-text('认定纳入监测')").count() == 0, "认定 is the county's, not the township's"

    d.login("yaoan_office")
    d.page.goto(f"/cases/{case_id}")
    d.follow("button:has-text('认定纳入监测')")  # no kind chosen: refused beside the form, in Chinese
    assert stage_of(d.page) == "认定"
    refusal = d.page.inner_text("main")
    assert "请" in refusal and "监测" in refusal
    d.check()
    d.page.select_option("#monitoring_kind", "脱贫不稳定户")
    d.follow("button:has-text('认定纳入监测')")
    assert d.page.locator(".banner.notice").count() == 1
    assert stage_of(d.page) == "帮扶计划"
    assert "脱贫不稳定户" in d.page.inner_text("main")
    assert HEAD_ID not in d.page.inner_text("body")
    d.check()
    d.shot("case-confirmed")
