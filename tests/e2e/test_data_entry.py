"""A township's data-entry clerk (dongchuan_entry) in a real browser: the household form
answers a wrong ID number and a wrong period beside the field, in Chinese, keeping what
was typed; an Excel batch with one bad row shows its progress bar, imports the good row
and hands out the error file; the household's page masks the ID number."""

import io
import re

from openpyxl import Workbook, load_workbook

HEADERS = ["户编号", "村代码", "户主姓名", "户主证件号码", "户类型", "家庭人口数", "期间", "人均纯收入（元）"]
GOOD_ID = "11010519491231002X"  # a valid checksum
BAD_ID = "110105194912310021"


def workbook(*rows) -> bytes:
    wb = Workbook()
    for row in (HEADERS, *rows):
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def downloaded(download, folder) -> Workbook:
    """The file the browser saved, under the name the portal gave it."""
    assert download.suggested_filename.endswith(".xlsx"), download.suggested_filename
    path = folder / download.suggested_filename
    download.save_as(path)
    return load_workbook(path)


def field_error(page, name: str) -> str:
    """The message right after the field, where the clerk is looking."""
    return page.inner_text(f"[name={name}] + .field-error")


def test_the_household_form_answers_beside_each_field(desktop, phone):
    d = desktop
    d.login("dongchuan_entry")
    d.follow("nav >> text=农户")
    d.follow("a:has-text('登记农户')")
    d.fill({"household_no": "5323251002018001", "village_code": "532325100201", "head_name": "王五",
            "head_id_number": BAD_ID, "category": "脱贫户", "members": "3", "labourers": "2"})
    d.follow("button:has-text('保存')")
    assert d.banner("error") == "填写的内容有误:户主身份证号码校验位不正确"
    assert field_error(d.page, "head_id_number") == "户主身份证号码校验位不正确"
    assert d.page.input_value("#head_name") == "王五", "what was typed is kept"
    d.check()
    d.shot("household-form-errors")

    phone.login("dongchuan_entry")
    phone.page.goto("/households/new")
    phone.fill({"household_no": "5323251002018002", "village_code": "532325100201", "head_name": "赵六",
                "head_id_number": BAD_ID, "members": "2"})
    phone.follow("button:has-text('保存')")
    assert "校验位" in field_error(phone.page, "head_id_number")
    phone.check()
    phone.page.locator("[name=head_id_number]").scroll_into_view_if_needed()
    phone.shot("household-form-errors")

    d.page.fill("#head_id_number", GOOD_ID)
    d.follow("button:has-text('保存')")
    assert d.banner() == "已保存"
    main = d.page.inner_text("main")
    assert "王五 户" in main and GOOD_ID not in main and re.search(r"\d{4}\*+\w{4}", main), "the ID number masked"
    d.page.fill("#period", "2023-13")
    d.page.fill("#per_capita_income", "6500")
    d.follow("button:has-text('保存本期数据')")
    assert field_error(d.page, "period").startswith("期间应写作")
    d.page.fill("#period", "2023")
    d.page.fill("#per_capita_income", "六千")
    d.follow("button:has-text('保存本期数据')")
    assert field_error(d.page, "per_capita_income").startswith("请填写数字")
    d.page.fill("#per_capita_income", "6500")
    d.follow("button:has-text('保存本期数据')")
    assert d.banner() == "2023 的数据已保存"
    assert "6500" in d.page.inner_text("h2:has-text('各期数据') + .table-wrap")
    d.check()
    d.shot("household")


def test_an_excel_batch_with_one_bad_row_shows_progress_and_the_error_file(desktop, phone, tmp_path):
    d = desktop
    d.login("dongchuan_entry")
    d.follow("nav >> text=批量导入")
    with d.page.expect_download() as template:
        d.page.click("a:has-text('下载导入模板')")
    header_cells = [c.value for row in downloaded(template.value, tmp_path).active.iter_rows(max_row=5) for c in row]
    assert "户编号" in header_cells and "户主证件号码" in header_cells
    d.check()
    d.shot("import")

    batch = tmp_path / "农户.xlsx"
    batch.write_bytes(workbook(
        ["5323251002019001", "532325100201", "张三", GOOD_ID, "脱贫户", 4, "2023", 8000],
        ["5323251002019002", "532325100201", "李四", GOOD_ID, "脱贫户", 3, "2023", -5]))
    d.page.set_input_files("#file", str(batch))
    d.follow("button:has-text('上传并导入')")
    d.page.wait_for_selector("#job-status:has-text('已完成')")  # htmx polls the job until it ends
    status = d.page.inner_text("#job-status")
    assert "已导入 1 行,有错误 1 行" in status and "不能为负数" in status
    assert d.page.get_attribute(".progress-bar", "aria-valuenow") == "100"
    d.check()
    d.shot("import-job")
    with d.page.expect_download() as errors:
        d.page.click("a:has-text('下载错误说明')")
    sheet = downloaded(errors.value, tmp_path).active
    header, *lines = [[c.value for c in row] for row in sheet.iter_rows()]
    reasons = {line[header.index("户主姓名")]: line[header.index("错误说明")] for line in lines}
    assert "不能为负数" in reasons["李四"] and not reasons["张三"], "the copy of the file says which row is wrong"

    phone.login("dongchuan_entry")
    phone.page.goto(d.page.url)
    phone.check()
    phone.shot("import-job")
    d.follow("a:has-text('查看农户')")
    d.page.fill("input[name=q]", "张三")
    d.follow("button:has-text('查询')")
    assert "张三" in d.page.inner_text("table") and GOOD_ID not in d.page.inner_text("table")
    d.check()
    phone.follow("nav >> text=农户")
    phone.check()
    phone.shot("households")
