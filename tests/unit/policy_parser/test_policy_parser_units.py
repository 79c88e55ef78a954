"""split_unit_list: the unit-list rules the expected outputs depend on."""

from __future__ import annotations

import pytest

from services.tasks.policy_parser import split_unit_list


@pytest.mark.parametrize(
    "text,names,and_others",
    [
        ("县民政局、县财政局", ["县民政局", "县财政局"], False),
        ("县民政局,县财政局;县医保局", ["县民政局", "县财政局", "县医保局"], False),
        ("县民政局，县财政局；县医保局", ["县民政局", "县财政局", "县医保局"], False),
        ("各县(市、区)、县委宣传部(广电局)", ["各县(市、区)", "县委宣传部(广电局)"], False),
        ("各县（市、区）人民政府", ["各县(市、区)人民政府"], False),
        ("州“挂包帮”联席会议办公室、州扶贫办", ["州“挂包帮”联席会议办公室", "州扶贫办"], False),
        ("县残联,各乡镇党委、政府", ["县残联", "各乡镇党委、政府"], False),
        ("各县区党委、政府", ["各县区党委、政府"], False),
        ("各县区党委、人民政府", ["各县区党委、人民政府"], False),
        ("县委、县财政局", ["县委", "县财政局"], False),
        ("各乡镇党委、县财政局", ["各乡镇党委", "县财政局"], False),
        ("各乡镇党委和政府", ["各乡镇党委和政府"], False),
        ("市农业农村局、市乡村振兴局、市财政局等,县区党委政府", ["市农业农村局", "市乡村振兴局", "市财政局", "县区党委政府"], True),
        ("市财政局等相关部门", ["市财政局"], True),
        ("市直相关部门", ["市直相关部门"], False),
        ("市发改委、市财政局,各县区。逗号前的单位为牵头单位,下同", ["市发改委", "市财政局", "各县区"], False),
        ("市直各部门按职责分工负责", ["市直各部门"], False),
        (" 县财政局 、 县税务局。", ["县财政局", "县税务局"], False),
        ("", [], False),
        ("、,;", [], False),
    ],
)
def test_split_unit_list(text, names, and_others):
    assert split_unit_list(text) == (names, and_others)


def test_document_order_is_kept():
    names, _ = split_unit_list("县乙局、县甲局、县丙局")
    assert names == ["县乙局", "县甲局", "县丙局"]
