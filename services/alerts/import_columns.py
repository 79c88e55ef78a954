"""The columns of our own import template (农户基本信息及收支情况导入模板) and how a
header cell is recognised: full- and half-width brackets, marks of required columns,
bracketed units and the usual variants of each name all name the same column."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, get_args

from services.alerts.schemas import Category


@dataclass(frozen=True)
class Col:
    """One column of the import file."""

    key: str  # the field of HouseholdIn / RecordIn, or a place name (county, township, village)
    header: str  # as in the template
    kind: str  # text code id phone int money flag period category place
    target: str  # household, record, both (劳动力人数), place
    aliases: tuple[str, ...] = ()
    required: bool = False
    note: str = ""  # how to fill it in (the template's instructions)
    example: str = ""

    @property
    def name(self) -> str:
        """The header without its bracketed unit: 人均纯收入（元） → 人均纯收入."""
        if self.key == "township":
            return self.header
        return re.sub(r"\(.*?\)", "", unicodedata.normalize("NFKC", self.header))


def _money(key: str, header: str, aliases: tuple[str, ...], note: str, example: str = "") -> Col:
    return Col(key, header, "money", "record", aliases, note=note, example=example)


def _flag(key: str, header: str, target: str, aliases: tuple[str, ...], note: str, example: str = "是") -> Col:
    return Col(key, header, "flag", target, aliases, note=note + " 填“是”或“否”", example=example)


COLUMNS: tuple[Col, ...] = (
    Col("household_no", "户编号", "code", "household", ("户码", "户号", "农户编号", "家庭编号", "户编码", "农户户编号"),
        True, "全县唯一的户编号(设为文本格式,避免 Excel 改成科学计数法);同一户不同期间各占一行", "5323251002010001"),
    Col("county", "县", "place", "place", ("县(市、区)", "县(市区)", "县区", "县市区", "所在县", "县名称", "县(区)",
                                          "县(市)", "县名"), note="按村名查找村时用于区分同名村,可不填", example="姚安县"),
    Col("township", "乡(镇)", "place", "place", ("乡镇", "乡", "镇", "乡(镇、街道)", "乡镇(街道)", "所在乡镇", "乡镇名称",
                                                 "乡(镇)名称", "乡镇名"), note="按村名查找村时用于区分同名村,可不填", example="栋川镇"),
    Col("village", "村", "place", "place", ("村名", "村名称", "行政村", "所在村", "村(社区)", "村委会", "村民委员会",
                                          "行政村名称", "村(居)委会"), note="村名;与村代码二者至少填一个", example="栋川东村"),
    Col("village_code", "村代码", "code", "household", ("村区划代码", "区划代码", "村(区划代码)", "行政区划代码",
                                                     "村级区划代码", "村编码", "村编号", "村代码(12位)", "村级代码"),
        note="12位统计用区划代码;填了村代码就按代码找村", example="532325100201"),
    Col("head_name", "户主姓名", "text", "household", ("户主", "户主名", "户主名称", "姓名(户主)"), True, example="张三"),
    Col("head_id_number", "户主证件号码", "id", "household", ("户主身份证号", "户主身份证号码", "户主身份证", "身份证号码",
                                                         "身份证号", "证件号码", "户主证件号", "户主公民身份号码",
                                                         "公民身份号码"),
        note="18位居民身份证号码,设为文本格式", example="11010519491231002X"),
    Col("phone", "联系电话", "phone", "household", ("电话", "手机", "手机号", "手机号码", "联系方式", "电话号码",
                                                 "户主联系电话"), example="13812345678"),
    Col("category", "户类型", "category", "household", ("农户类型", "户类别", "户属性", "监测对象类型", "人口类型", "类型",
                                                    "农户属性", "户别"),
        True, "、".join(get_args(Category)) + " 之一", "脱贫户"),
    Col("members", "家庭人口数", "int", "household", ("家庭人口", "人口数", "家庭人数", "户人口数", "人口", "家庭成员数",
                                                  "家庭总人口", "家庭人口(人)"), True, "1到30", "4"),
    Col("labourers", "劳动力人数", "int", "both", ("劳动力", "劳动力数", "劳力人数", "劳动力人口", "家庭劳动力人数",
                                               "劳动力(人)"), note="不超过家庭人口数", example="2"),
    _flag("no_labour_capacity", "整户无劳动能力", "household", ("是否整户无劳动能力", "整户无劳动力", "是否整户无劳动力"),
          "整户都没有劳动能力的填“是”,劳动力人数应为0;", "否"),
    Col("period", "期间", "period", "record", ("年度", "年份", "期别", "统计期间", "期数", "所属期间", "月份", "数据期间",
                                             "统计年度", "统计期", "所属年度", "收入年度"),
        True, "年度数据写 2023,月度数据写 2023-05;只登记户信息时可空", "2023"),
    _money("per_capita_income", "人均纯收入（元）", ("人均纯收入", "家庭人均纯收入", "人均收入", "年人均纯收入",
                                                "家庭年人均纯收入"), "元,不能为负数", "7900"),
    _money("wage_income", "工资性收入", ("工资收入", "务工收入", "工资性收入(元)"), "元,不能为负数", "20000"),
    _money("business_income", "生产经营性收入", ("经营性收入", "生产经营收入", "家庭经营性收入", "生产经营性收入(元)",
                                             "经营收入"), "元,亏损可填负数", "6000"),
    _money("property_income", "财产性收入", ("财产收入", "财产性收入(元)"), "元,不能为负数", "0"),
    _money("transfer_income", "转移性收入", ("转移收入", "转移性收入(元)", "政策性收入"), "元,不能为负数", "3600"),
    _money("medical_expense", "合规自付医疗支出", ("医疗支出", "合规自付医疗费用", "自付医疗费用", "医疗费用支出",
                                              "合规自付医疗支出(元)", "自付医疗支出"), "元,不能为负数", "0"),
    _money("education_expense", "教育支出", ("教育费用", "教育支出(元)", "子女教育支出"), "元,不能为负数", "0"),
    _money("disaster_loss", "因灾损失", ("受灾损失", "自然灾害损失", "因灾损失(元)"), "元,不能为负数", "0"),
    _money("accident_loss", "意外事故损失", ("意外损失", "意外事故损失(元)", "事故损失"), "元,不能为负数", "0"),
    Col("employed", "务工就业人数", "int", "record", ("务工人数", "就业人数", "务工就业", "外出务工人数", "务工就业人数(人)"),
        note="不超过劳动力人数", example="1"),
    _flag("compulsory_education_ok", "义务教育有保障", "record", ("义务教育保障", "是否义务教育有保障", "义务教育"), ""),
    _flag("basic_medical_ok", "基本医疗有保障", "record", ("基本医疗保障", "是否基本医疗有保障", "基本医疗"), ""),
    _flag("housing_ok", "住房安全有保障", "record", ("住房安全保障", "是否住房安全有保障", "住房安全"), ""),
    _flag("drinking_water_ok", "饮水安全有保障", "record", ("饮水安全保障", "是否饮水安全有保障", "饮水安全"), ""),
    # not in the template, read when present
    _flag("under_assistance", "有在实施的帮扶计划", "household", ("是否有帮扶计划", "有帮扶计划", "帮扶计划",
                                                          "是否有在实施的帮扶计划"), "", "否"),
)
BY_KEY = {c.key: c for c in COLUMNS}
TEMPLATE_COLUMNS = tuple(c for c in COLUMNS if c.key != "under_assistance")
REQUIRED = tuple(c.key for c in COLUMNS if c.required)
RECORD_ONLY = tuple(c.key for c in COLUMNS if c.target == "record" and c.key != "period")
HOUSEHOLD_KEYS = ("household_no", "village_code", "head_name", "head_id_number", "phone", "category", "members",
                  "labourers", "no_labour_capacity", "under_assistance")


def normalize_header(text: str) -> str:
    """A header as compared: full-width folded (（）→ ()), whitespace, marks of required columns and colons dropped."""
    return re.sub(r"[\s::*※★]", "", unicodedata.normalize("NFKC", text))


def _build_names() -> tuple[dict[str, str], dict[str, str]]:
    exact, stripped = {}, {}
    for c in COLUMNS:
        for name in (c.header, c.name, *c.aliases):
            exact.setdefault(normalize_header(name), c.key)
    for c in COLUMNS:
        for name in (c.header, *c.aliases):
            stripped.setdefault(re.sub(r"\(.*?\)", "", normalize_header(name)), c.key)
    return exact, stripped


_EXACT, _STRIPPED = _build_names()


def header_key(text: Any) -> str | None:
    """The column a header names, or None: exact names and variants first (村(区划代码) is the code),
    then without bracketed parts (人均纯收入（元） → 人均纯收入, 家庭人口数(人) → 家庭人口数)."""
    if not isinstance(text, str):
        return None
    h = normalize_header(text)
    if not h:
        return None
    if h in _EXACT:
        return _EXACT[h]
    bare = re.sub(r"\(.*?\)|【.*?】|\[.*?\]", "", h)
    return _EXACT.get(bare) or _STRIPPED.get(bare)


def header_map(values: Iterable[Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, v in enumerate(values):
        key = header_key(v)
        if key and key not in found:
            found[key] = i
    return found


def missing_columns(columns: dict[str, int]) -> list[str]:
    """The required columns a header lacks, as their template names."""
    missing = [BY_KEY[k].header for k in REQUIRED if k not in columns]
    if "village_code" not in columns and "village" not in columns:
        missing.insert(1, "村 或 村代码")
    return missing
