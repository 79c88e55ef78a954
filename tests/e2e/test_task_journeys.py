"""The office, a department and a leader in a real browser, one journey after another on
one running system: the office imports seed 000 and publishes it; 县人社局 acknowledges
and submits a 月报, the office returns it, the department resubmits and the office
approves; a week later (Temporal's clock moved on) the steps nobody handled are
overdue and reach the leader, who gives a 批示 that the unit's clerk — given a login
by the office — reads on the step; the leader's ranking leads to a unit's score
explanation and on to a step behind it. Each main page is also opened on a 375 px phone
and photographed under tests/e2e/screenshots/."""

import re
import time
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

SEED = Path(__file__).parents[2] / "services" / "demo" / "seeds" / "000_43dd4e53923179b4.txt"
RSJ = "县人力资源和社会保障局"


def rows(dsn: str, sql: str, *params) -> list[dict]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(sql, params).fetchall()


def waited(probe, timeout: float):
    """The probe's first truthy answer within `timeout` seconds, else None: workflows, the relay
    and the consumer work in the background."""
    deadline = time.monotonic() + timeout
    while not (found := probe()):
        if time.monotonic() > deadline:
            return None
        time.sleep(0.3)
    return found


def eventually(what: str, probe, timeout: float = 60):
    found = waited(probe, timeout)
    assert found, f"{what}: not within {timeout:.0f} s"
    return found


def unit_step(dsn: str, unit: str, kind: str, status: str | None = None) -> dict | None:
    found = rows(dsn, """SELECT s.* FROM tasks.steps s JOIN common.units u ON u.id = s.unit_id
                         WHERE u.name = %s AND s.kind = %s AND (%s::text IS NULL OR s.status = %s)
                         ORDER BY s.task_id, s.id LIMIT 1""", unit, kind, status, status)
    return found[0] if found else None


def test_office_uploads_reviews_and_publishes_seed_000(desktop, phone, stack):
    d = desktop
    d.login("yaoan_office")
    d.follow("nav >> text=政策文件")
    assert "还没有政策文件" in d.page.inner_text("main")
    d.check()
    d.page.set_input_files("#file", str(SEED))
    d.follow("button:has-text('上传并解析')")
    assert re.search(r"已解析出 \d+ 条措施", d.banner())
    d.check()
    d.shot("policy-review")
    unknown = d.page.locator("form[action$='/units/confirm']")
    while unknown.count():  # names the registry does not know: each confirmed as a new unit
        d.follow(unknown.first.locator("button"))
        assert "已确认单位" in d.banner()
    first = d.page.locator("form[action*='/measures/']").first
    first.locator("input[name=title]").fill("强化底线思维,加强防返贫监测和帮扶(已核对)")
    first.locator("textarea[name=deadlines]").fill("2026-12-31")
    d.follow(first.locator("button:has-text('保存本条')"))
    assert d.banner() == "措施已保存"
    assert "加强防返贫监测和帮扶(已核对)" in d.page.inner_text("main")
    d.check()
    review_url = d.page.url

    phone.login("yaoan_office")
    phone.page.goto(review_url.split("#")[0])
    phone.check()
    phone.shot("policy-review")

    d.follow("button:has-text('发布')")
    published = d.banner()
    assert re.fullmatch(r"已发布,生成 \d+ 项任务.*", published), published
    tasks = int(re.search(r"生成 (\d+) 项任务", published).group(1))
    assert tasks == len(rows(stack.dsn, "SELECT id FROM tasks.tasks")) > 20
    d.follow("nav >> text=政策文件")
    assert f"{tasks} 项任务" in d.page.inner_text("main")
    d.check()
    d.shot("policies")


def test_the_department_acknowledges_and_submits_a_monthly_report_from_its_inbox(desktop, phone, stack):
    eventually("every task's workflow opening its steps", lambda: rows(stack.dsn, """
        SELECT 1 WHERE (SELECT count(*) FROM tasks.tasks) = (SELECT count(DISTINCT task_id) FROM tasks.steps)"""))
    ack = eventually("县人社局's 签收 step", lambda: unit_step(stack.dsn, RSJ, "acknowledge"))
    monthly = eventually("县人社局's 月报 step", lambda: unit_step(stack.dsn, RSJ, "monthly_report"))
    d = desktop
    d.login("yaoan_rsj")
    d.follow("nav >> text=待办")
    inbox = d.page.locator("table tbody tr")
    assert inbox.count() == 20 and "下一页" in d.page.inner_text("main"), d.page.inner_text("main")[:400]
    dues = [row.locator("td").first.inner_text().split("\n")[0] for row in inbox.all()]
    assert dues == sorted(dues), "the inbox is sorted by due date"
    d.check()
    d.shot("inbox")

    d.follow(f"a[href='/steps/{ack['id']}']")
    assert "确认本单位已收到此任务" in d.page.inner_text("main")
    d.follow("button:has-text('签收')")
    assert d.banner() == "已签收"
    d.check()

    d.page.goto(f"/steps/{monthly['id']}")
    d.page.fill("#text", "本月组织技能培训3期,培训脱贫劳动力120人次。")
    d.page.fill("#progress", "40")
    d.page.set_input_files("#attachment", files=[{"name": "培训台账.txt", "mimeType": "text/plain",
                                                 "buffer": "培训台账:3期,120人次".encode()}])
    d.follow("button:has-text('报送')")
    assert d.banner() == "已报送,等待审核"
    main = d.page.inner_text("main")
    assert "培训脱贫劳动力120人次" in main and "进度:40%" in main and "附件 1" in main
    d.check()

    phone.login("yaoan_rsj")
    phone.follow("nav >> text=待办")
    phone.check()
    phone.shot("inbox")
    phone.page.goto(f"/steps/{monthly['id']}")
    phone.check()
    phone.shot("step")
    d.shot("step")


def test_the_office_returns_the_report_and_the_department_resubmits(desktop, phone, stack):
    monthly = unit_step(stack.dsn, RSJ, "monthly_report", "submitted")
    d = desktop
    d.login("yaoan_office")
    d.follow("nav >> text=待审核")
    waiting = d.page.locator(f"a[href='/steps/{monthly['id']}']")
    assert waiting.count() == 1 and RSJ in d.page.inner_text("main")
    d.check()
    d.shot("reviews")
    d.follow(waiting)
    d.page.fill("#opinion", "请补充培训人员名单")
    d.follow("button:has-text('退回')")
    assert d.banner().startswith("已退回")
    d.check()

    d.login("yaoan_rsj")
    d.page.goto(f"/steps/{monthly['id']}")
    assert "请补充培训人员名单" in d.page.inner_text("main")
    d.page.fill("#text", "已补充培训人员名单(120人)。")
    d.follow("button:has-text('报送')")
    assert d.banner() == "已报送,等待审核"

    d.login("yaoan_office")
    d.page.goto(f"/steps/{monthly['id']}")
    d.follow("button:has-text('审核通过')")
    assert "通过" in d.banner()
    history = d.page.inner_text("main").split("办理记录", 1)[1]
    assert "请补充培训人员名单" in history and "已补充培训人员名单" in d.page.inner_text("main")
    d.check()

    d.follow("nav >> text=办理进度")
    d.page.wait_for_selector("#chart canvas")  # ECharts drew the units' bars
    assert RSJ in d.page.inner_text("main")
    d.check()
    d.page.wait_for_timeout(1000)  # the bars' grow-in animation, for the screenshot only
    d.shot("progress")
    phone.login("yaoan_office")
    phone.follow("nav >> text=办理进度")
    phone.page.wait_for_selector("#chart canvas")
    phone.check()
    phone.shot("progress")
    phone.page.locator("table").scroll_into_view_if_needed()
    phone.shot("progress-table")


def test_steps_left_undone_go_overdue_and_reach_the_leader(desktop, phone, stack):
    # A step is overdue the day after its due day and reaches the leader 3 working days later:
    # a week for seed 000's 完成情况报告 (its deadlines are past, so due on the next working day),
    # longer when 国庆 or 春节 falls in between.
    for _ in range(4):
        stack.skip(days=7)
        if waited(lambda: rows(stack.dsn, "SELECT 1 FROM tasks.escalations WHERE to_role = 'leader'"), 15):
            break
    else:
        pytest.fail("no step reached the leader after four weeks")
    d = desktop
    d.login("yaoan_leader")
    assert re.search(r"督办批示\s*\d+", d.page.inner_text("main")), "the home page counts what waits"
    d.follow("nav >> text=督办批示")
    d.check()
    d.shot("escalations")
    oldest = d.page.locator("main div.box").first  # the longest waiting first
    assert "2 级督办" in oldest.inner_text() and "逾期" in oldest.inner_text()
    step_id = int(oldest.locator("a[href^='/steps/']").get_attribute("href").rsplit("/", 1)[1])
    unit = oldest.locator("b").first.inner_text().split(":", 1)[0]
    oldest.locator("textarea").fill("请三日内签收并说明逾期原因")
    d.follow(oldest.locator("button:has-text('送达批示')"))
    assert d.banner() == "批示已送达责任单位"
    d.check()

    phone.login("yaoan_leader")
    phone.follow("nav >> text=督办批示")
    phone.check()
    phone.shot("escalations")

    # the office gives that unit a login (用户与单位), and its clerk reads the 批示 on the overdue step
    d.login("yaoan_office")
    d.follow("nav >> text=用户与单位")
    d.page.click("summary:has-text('新增用户')")
    d.page.fill("#username", "e2e_clerk")
    d.page.fill("#full_name", "督办经办人")
    d.page.select_option("#unit_id", label=unit)
    d.page.check("input[name=roles][value=unit_staff]")
    d.page.fill("#password", "e2e-clerk-password")
    d.follow("button:has-text('新增')")
    assert d.banner() == "已新增用户 e2e_clerk"
    d.check()
    d.login("e2e_clerk", "e2e-clerk-password")
    d.follow("nav >> text=待办")
    d.page.select_option("select[name=overdue]", "true")
    d.follow("button:has-text('筛选')")
    assert d.page.locator("tr.overdue").count() >= 1 and "已督办" in d.page.inner_text("main")
    d.follow(f"a[href='/steps/{step_id}']")
    main = d.page.inner_text("main")
    assert "督办与批示" in main and "请三日内签收并说明逾期原因" in main and unit in main
    d.check()


def test_the_leader_follows_a_ranking_to_the_explanation_of_a_score(desktop, phone, stack):
    escalated = eventually("scoring facts from the task events", lambda: rows(
        stack.dsn, "SELECT period FROM assessment.facts WHERE kind = 'step_escalated' ORDER BY period LIMIT 1"))
    year = escalated[0]["period"][:4]  # Temporal's clock may have crossed into the next year
    d = desktop
    d.login("yaoan_leader")
    d.follow("nav >> text=排名与红旗")
    d.page.fill("input[name=year]", str(year))
    d.follow("button:has-text('查看')")
    flags = d.page.locator("h2:has-text('红旗单位') + .table-wrap")
    assert "被督办" in flags.inner_text()
    ranking = d.page.locator("h2:has-text('排名') + .table-wrap tbody tr")
    assert ranking.count() > 5
    d.page.wait_for_selector("#trend canvas")  # ECharts drew the monthly trend
    d.check()
    d.shot("ranking")
    score = ranking.first.locator("td").nth(2).inner_text()
    d.follow(ranking.first.locator("a:has-text('得分说明')"))
    main = d.page.inner_text("main")
    assert f"得分说明 · {year}" in main and f"总分 {score}" in main and "第 1 名" in main, main[:300]
    assert d.page.locator("table tbody tr").count() >= 1, "indicator lines with their formula and facts"
    d.check()
    d.shot("score-explanation")
    explanation = d.page.url
    d.follow(d.page.locator("table a:has-text('步骤')").first)  # a fact behind a line, down to its step
    assert "办理记录" in d.page.inner_text("main") and "/steps/" in d.page.url
    d.check()

    phone.login("yaoan_leader")
    phone.page.goto(f"/overview?year={year}")
    phone.check()
    phone.shot("ranking")
    phone.page.goto(explanation)
    phone.check()
    phone.shot("score-explanation")
