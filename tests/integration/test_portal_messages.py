"""How the portal words what the APIs refuse, and how it shows times and pages: pure
functions, no servers (kept beside the portal's page tests)."""

import httpx
import pytest
from starlette.requests import Request

from services.portal.backend import UNAVAILABLE, chinese, error_from
from services.portal.views import local_time, page_links, percent


def response(status: int, body=None, text: str | None = None) -> httpx.Response:
    if text is not None:
        return httpx.Response(status, text=text)
    return httpx.Response(status, json=body)


@pytest.mark.parametrize("raw, shown", [
    ("文件 1 不存在 (document not found)", "文件 1 不存在"),
    ("无权操作:需要角色 数据录入员 (forbidden)", "无权操作:需要角色 数据录入员"),
    ("期间应写作 2023 或 2023-05", "期间应写作 2023 或 2023-05"),
    ("Value error, 请指定规则或户编号 (rule_id or subject_key is required)", "请指定规则或户编号"),
    ("报送内容(文字)不能为空", "报送内容(文字)不能为空"),
])
def test_the_english_tail_is_dropped_and_chinese_brackets_kept(raw, shown):
    assert chinese(raw) == shown


def test_field_errors_are_kept_per_field_and_joined_in_the_banner():
    e = error_from(response(422, {"detail": "请求参数有误 (invalid request)", "errors": [
        {"field": "head_id_number", "reason": "x", "message": "户主证件号码校验位不对"},
        {"field": "body.members", "reason": "y", "message": "必填"}]}))
    assert e.status == 422 and e.fields == {"head_id_number": "户主证件号码校验位不对", "members": "必填"}
    assert e.message == "填写的内容有误:户主证件号码校验位不对;必填"


def test_rows_at_fault_and_missing_columns_are_listed_then_counted():
    errors = [{"row": n, "column": "存在问题", "reason": "不能为空 (required)"} for n in range(3, 15)]
    e = error_from(response(422, {"detail": {"message": "台账有 12 处错误 (nothing was imported)", "errors": errors}}))
    assert e.message.startswith("台账有 12 处错误。第 3 行“存在问题” 不能为空;第 4 行")
    assert e.message.endswith("另有 2 处") and "required" not in e.message
    e = error_from(response(422, {"detail": {"message": "缺少必需的列", "missing": ["户编号", "村代码"]}}))
    assert e.message == "缺少必需的列。缺少列:户编号、村代码"


@pytest.mark.parametrize("status, body, shown", [
    (403, {"detail": ""}, "您没有权限进行此操作"),
    (500, {"detail": "Internal Server Error"}, UNAVAILABLE),
    (502, None, UNAVAILABLE),
    (409, {"detail": [{"loc": ["x"]}]}, "当前状态下不能进行此操作"),
])
def test_no_detail_or_a_server_error_gets_a_plain_chinese_sentence(status, body, shown):
    r = response(status, body) if body is not None else response(status, text="<html>bad gateway</html>")
    assert error_from(r).message == shown


def test_times_are_shown_in_china_time():
    assert local_time("2023-05-31T16:30:00+00:00") == "2023-06-01 00:30"
    assert local_time("2023-05-31T16:30:00") == "2023-05-31 16:30"
    assert local_time(None) == "" and local_time("not a time") == "not a time"
    assert percent(0.955) == "95.5%" and percent(1) == "100.0%" and percent(None) == "—"


def test_page_links_keep_the_filters_and_stop_at_the_ends():
    request = Request({"type": "http", "path": "/inbox", "query_string": b"status=open&offset=20&notice=x",
                       "headers": []})
    links = page_links(request, total=45, limit=20, offset=20)
    assert (links["from"], links["to"]) == (21, 40)
    assert links["prev"] == "/inbox?status=open&offset=0" and links["next"] == "/inbox?status=open&offset=40"
    last = page_links(request, total=45, limit=20, offset=40)
    assert last["next"] is None and last["to"] == 45
    assert page_links(request, total=0, limit=20, offset=0)["from"] == 0


def test_target_and_deadline_lines_round_trip_and_keep_what_the_parser_found():
    from services.portal.measure_form import LineError, deadline_line, read_deadlines, read_targets, target_line

    parsed = {"indicator": "转移就业", "comparator": ">=", "value": 1.2, "unit": "万人", "text": "确保……1.2万人以上",
              "year": 2023, "category": None, "needs_value": False, "ref": "not for the API"}
    assert target_line(parsed) == "转移就业 >= 1.2 万人"
    assert target_line({"indicator": "零就业家庭动态清零", "comparator": "qualitative", "value": None}) == "零就业家庭动态清零 定性"
    got = read_targets("转移就业 >= 1.2 万人\n\n培训 ≥ 1000 人次\n动态清零 定性\n", [parsed])
    assert got[0] == {k: v for k, v in parsed.items() if k != "ref"}, "an untouched line keeps the source text and year"
    assert got[1] == {"indicator": "培训", "comparator": ">=", "value": 1000.0, "unit": "人次", "text": "培训 ≥ 1000 人次"}
    assert got[2]["comparator"] == "qualitative" and got[2]["indicator"] == "动态清零"
    with pytest.raises(LineError, match="目标第 2 行"):
        read_targets("培训 >= 10 人\n培训很多人", [])
    monthly = {"phrase": "每月5日前", "recurring": "monthly", "month_day": None, "text": "每月5日前报送", "x": 1}
    assert deadline_line(monthly) == "每月5日前"
    assert read_deadlines("每月5日前\n2023-12-31\n6月底前", [monthly]) == [
        {k: v for k, v in monthly.items() if k != "x"},
        {"date": "2023-12-31", "phrase": "2023-12-31", "text": "2023-12-31"},
        {"phrase": "6月底前", "text": "6月底前"}]
