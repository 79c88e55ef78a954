"""The office's review of a draft as pure functions: merge, split, names to confirm,
due dates, and the changes of an amended version."""

import pytest

from services.tasks.review import (
    ReviewError,
    diff_documents,
    merge_measures,
    split_measure,
    task_due_date,
    unresolved_names,
)


def measure(ref, title, lead=(), resp=(), **extra):
    return {
        "ref": ref, "title": title, "text": f"{title}。正文", "lead_units": list(lead), "responsible_units": list(resp),
        "lead_inferred": False, "and_others": False, "raw_annotation": "", "targets": [], "deadlines": [], **extra,
    }


def test_merge_unites_units_in_order_without_repeats():
    a = measure("一.1", "发展产业", ["县农业农村局"], ["县农业农村局", "各乡镇党委、政府"])
    b = measure("一.2", "壮大集体经济", ["县财政局"], ["各乡镇党委、政府", "县财政局"], and_others=True)
    m = merge_measures([a, b])
    assert m["ref"] == "一.1" and m["title"] == "发展产业"
    assert m["lead_units"] == ["县农业农村局", "县财政局"]
    assert m["responsible_units"] == ["县农业农村局", "各乡镇党委、政府", "县财政局"]
    assert m["and_others"] is True and m["edited"] is True
    assert m["text"] == "发展产业。正文\n壮大集体经济。正文"


def test_merge_needs_two():
    with pytest.raises(ReviewError):
        merge_measures([measure("1", "x")])


def test_split_gives_numbered_parts_inheriting_units():
    m = measure("二.(三)", "稳岗就业", ["县人社局"], ["县人社局", "县财政局"])
    parts = split_measure(m, [{"text": "开展培训"}, {"text": "开发公益岗位", "lead_units": ["县民政局"]}])
    assert [p["ref"] for p in parts] == ["二.(三)-1", "二.(三)-2"]
    assert parts[0]["lead_units"] == ["县人社局"] and parts[1]["lead_units"] == ["县民政局"]
    assert parts[1]["responsible_units"] == ["县人社局", "县财政局"]


def test_split_refuses_an_empty_part():
    with pytest.raises(ReviewError, match="第2部分"):
        split_measure(measure("1", "x"), [{"text": "a"}, {"text": "  "}])


def test_unresolved_names_in_document_order():
    ms = [measure("1", "a", ["县人社局"], ["县火星局", "县人社局"]), measure("2", "b", [], ["县土星办", "县火星局"])]
    kinds = {"县人社局": "unit", "县火星局": "unknown"}
    assert unresolved_names(ms, kinds) == ["县火星局", "县土星办"]


def test_due_date_is_the_earliest_dated_one_time_deadline():
    deadlines = [
        {"date": "2024-12-31", "recurring": "yearly"},
        {"date": "2022-06-30", "recurring": None},
        {"date": "2022-09-30", "recurring": None},
        {"date": None, "recurring": None},
    ]
    assert task_due_date(deadlines) == "2022-06-30"
    assert task_due_date([]) is None


def test_diff_finds_added_removed_and_changed_measures():
    published = [measure("1", "发展产业", ["县农业农村局"]), measure("2", "稳岗就业", ["县人社局"]), measure("3", "兜底保障")]
    amended = [
        measure("1", "发展产业", ["县农业农村局"]),
        measure("2", "稳岗就业", ["县人社局", "县财政局"]),
        measure("4", "易地搬迁后续扶持"),
    ]
    changes = {(c.kind, c.title): c for c in diff_documents(published, amended)}
    assert set(changes) == {("changed", "稳岗就业"), ("added", "易地搬迁后续扶持"), ("removed", "兜底保障")}
    changed = changes[("changed", "稳岗就业")]
    assert changed.fields == ["lead_units"]
    assert changed.after == {"lead_units": ["县人社局", "县财政局"]}


def test_diff_of_identical_documents_is_empty():
    ms = [measure("1", "发展产业", ["县农业农村局"])]
    assert diff_documents(ms, [dict(m) for m in ms]) == []


def test_diff_follows_measures_renumbered_by_an_insertion():
    published = [measure("1", "发展产业"), measure("2", "稳岗就业")]
    amended = [measure("1", "发展产业"), measure("2", "壮大集体经济"), measure("3", "稳岗就业")]
    changes = [(c.kind, c.title, c.fields) for c in diff_documents(published, amended)]
    assert changes == [("added", "壮大集体经济", [])], "a renumbered measure is not a change"


def test_diff_treats_a_retitled_measure_at_the_same_number_as_changed():
    changes = diff_documents([measure("3", "兜底保障")], [measure("3", "综合兜底保障")])
    assert [(c.kind, c.fields) for c in changes] == [("changed", ["title", "text"])]
