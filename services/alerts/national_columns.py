"""The columns of the national monitoring system's exports (全国防止返贫监测信息系统) that
the importer reads, with the values the system writes in them.

- `监测对象信息`: one row per person, about 177 columns; the household's fields are
  repeated on every member's row and the rows of a household share its `户编号`.
- `行政村信息`: one row per village with its households and population.

Header spellings vary between versions of the system: names are compared after
folding full-width characters (（元） = (元)), and older names are aliases
(`风险消除时间` for `消除监测时间`). Columns not listed here are ignored and named in
the import's report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from services.alerts.import_columns import normalize_header

# Values the national system writes (see shared/reference/national-monitoring-system.md).
MONITORING_CATEGORIES = ("脱贫不稳定户", "边缘易致贫户", "突发严重困难户")  # 监测对象类别
HOUSEHOLD_TYPES = ("脱贫户", "一般农户", *MONITORING_CATEGORIES)  # 户类型
RISKS = ("因病", "因残", "因学", "因安全住房", "因安全饮水", "缺劳动力", "因务工就业不稳", "因自然灾害", "因意外事故",
         "因产业项目失败", "因突发严重困难", "其他")  # 致贫/返贫风险; 因自然灾害 may carry a sub-item (因自然灾害-洪涝)
ELIMINATION_METHODS = ("帮扶消除", "自然消除")  # 风险消除方式
LABOUR_SKILLS = ("普通劳动力", "技能劳动力", "弱劳动力或半劳动力", "丧失劳动力", "无劳动力")  # 劳动技能
FULL_LABOUR = ("普通劳动力", "技能劳动力")  # counted in 劳动力人数
HEALTH = ("健康", "长期慢性病", "患大病", "残疾")  # 健康状况 (a person may have several, comma-joined)
RELATIONS = ("户主", "配偶", "之子", "之女", "之儿媳", "之女婿", "之孙子", "之孙女", "之外孙子", "之外孙女", "之曾孙子",
             "之曾孙女", "之父", "之母", "之岳父", "之岳母", "之公公", "之婆婆", "之祖父", "之祖母", "之外祖父", "之外祖母",
             "之兄弟姐妹", "之兄弟", "之姐妹", "其他")  # 与户主关系
ID_TYPES = {"居民身份证": "居民身份证", "身份证": "居民身份证", "残疾人证": "残疾人证", "残疾证": "残疾人证",
            "户口簿": "其他", "护照": "其他", "其他": "其他"}  # 证件类型 → the register's id_type
ASSISTANCE = ("产业帮扶", "就业帮扶", "金融帮扶", "公益岗位帮扶", "健康帮扶", "教育帮扶", "义务教育保障", "住房安全保障",
              "饮水安全保障", "综合保障", "社会帮扶", "搬迁", "生产生活条件改善", "基础设施建设")  # 帮扶措施, one column each

# The register's fields as the export names them, for errors found on a whole household.
REGISTER_TO_EXPORT = {"head_name": "name", "head_id_number": "id_number", "phone": "phone", "members": "relation",
                      "labourers": "labour_skill", "employed": "work_place", "no_labour_capacity": "no_labour_support",
                      "village_code": "village", "household_no": "household_no", "period": "period",
                      "compulsory_education_ok": "dropout", "housing_ok": "dangerous_house",
                      "drinking_water_ok": "safe_water", "basic_medical_ok": "uninsured",
                      **{k: k for k in ("wage_income", "business_income", "property_income", "transfer_income",
                                         "per_capita_income", "medical_expense")}}


@dataclass(frozen=True)
class NCol:
    """One column of the 监测对象信息 export: `key` is what the importer calls it,
    `level` says whether it is the person's or repeated for the household."""

    key: str
    header: str
    kind: str  # text code id vocab vocabs flag month money items place
    level: str  # person | household
    aliases: tuple[str, ...] = ()
    vocab: tuple[str, ...] = ()


def _risk(i: int) -> NCol:
    return NCol(f"risk{i}", f"致贫/返贫风险{i}", "vocab", "household",
                (f"致贫返贫风险{i}", f"返贫致贫风险{i}", f"致贫风险{i}", f"风险类型{i}", f"主要风险{i}"), RISKS)


def _money(key: str, header: str, *aliases: str) -> NCol:
    return NCol(key, header, "money", "household", aliases)


PERSON_COLUMNS: tuple[NCol, ...] = (
    NCol("county", "县", "place", "household", ("县(市、区)", "县(市区)", "县区", "县名称", "县(区)")),
    NCol("township", "乡", "place", "household", ("乡(镇)", "乡镇", "乡(镇、街道)", "乡镇(街道)", "乡镇名称")),
    NCol("village", "村", "place", "household", ("行政村", "村(社区)", "村名称", "行政村名称")),
    NCol("household_no", "户编号", "code", "household", ("户码", "户号", "农户编号", "家庭编号")),
    NCol("name", "姓名", "text", "person", ("成员姓名", "人员姓名", "家庭成员姓名")),
    NCol("id_number", "证件号码", "id", "person", ("身份证号码", "身份证号", "证件号", "公民身份号码")),
    NCol("id_type", "证件类型", "vocab", "person", (), tuple(ID_TYPES)),
    NCol("relation", "与户主关系", "vocab", "person", ("与户主的关系",), RELATIONS),
    NCol("phone", "家庭成员联系电话", "code", "household", ("联系电话", "家庭联系电话")),
    NCol("household_type", "户类型", "vocab", "household", ("农户类型",), HOUSEHOLD_TYPES),
    NCol("monitoring_category", "监测对象类别", "vocab", "household", ("监测对象类型",), MONITORING_CATEGORIES),
    NCol("identified_month", "识别监测时间", "month", "household", ("纳入监测时间", "识别时间")),
    *(_risk(i) for i in range(1, 6)),
    NCol("no_labour_support", "整户无劳动能力兜底保障户", "flag", "household", ("是否整户无劳动能力兜底保障户",)),
    NCol("risk_eliminated", "风险是否已消除", "flag", "household", ("是否风险消除", "风险是否消除")),
    NCol("elimination_method", "风险消除方式", "vocab", "household", ("消除方式",), ELIMINATION_METHODS),
    NCol("eliminated_month", "消除监测时间", "month", "household", ("风险消除时间",)),
    NCol("health", "健康状况", "vocabs", "person", (), HEALTH),
    NCol("labour_skill", "劳动技能", "vocab", "person", (), LABOUR_SKILLS),
    NCol("work_place", "务工所在地", "text", "person", ("务工地点",)),
    _money("wage_income", "工资性收入", "工资性收入(元)"),
    _money("business_income", "生产经营性收入", "生产经营性收入(元)", "经营性收入"),
    _money("property_income", "财产性收入", "财产性收入(元)"),
    _money("transfer_income", "转移性收入", "转移性收入(元)"),
    _money("per_capita_income", "人均纯收入（元）", "人均纯收入", "家庭人均纯收入", "家庭人均纯收入(元)"),
    _money("medical_expense", "合规自付支出", "合规自付支出(元)", "合规自付医疗支出"),
    NCol("period", "收支年度", "period", "household", ("年度", "收入年度", "统计年度")),  # not in the national export:
    # our own export back writes it, so that file reads back with its year
    NCol("dropout", "是否义务教育阶段适龄儿童少年失学辍学", "flag", "household", ("是否有义务教育阶段适龄儿童少年失学辍学",)),
    NCol("dangerous_house", "是否危房户", "flag", "household", ("是否住危房",)),
    NCol("safe_water", "是否解决安全饮用水", "flag", "household", ("是否解决安全饮水",)),
    NCol("uninsured", "是否有家庭成员未参加城乡居民（职工）基本医疗保险", "flag", "household",
         ("是否有家庭成员未参加城乡居民基本医疗保险",)),
    *(NCol(f"measure:{name}", name, "items", "household") for name in ASSISTANCE),
)
PERSON_BY_KEY = {c.key: c for c in PERSON_COLUMNS}
PERSON_REQUIRED = ("county", "township", "village", "household_no", "id_number", "relation")

VILLAGE_COLUMNS: tuple[NCol, ...] = (
    NCol("county", "县", "place", "household", PERSON_BY_KEY["county"].aliases),
    NCol("township", "乡", "place", "household", PERSON_BY_KEY["township"].aliases),
    NCol("village", "村", "place", "household", PERSON_BY_KEY["village"].aliases),
    NCol("households", "总户数", "int", "household", ("户数",)),
    NCol("population", "总人口数", "int", "household", ("总人口", "人口数", "乡村人口数")),
)
VILLAGE_BY_KEY = {c.key: c for c in VILLAGE_COLUMNS}
VILLAGE_REQUIRED = ("village", "population")


def _names(columns: Iterable[NCol]) -> dict[str, str]:
    out: dict[str, str] = {}
    for c in columns:
        for name in (c.header, *c.aliases):
            h = normalize_header(name)
            out.setdefault(h, c.key)
            out.setdefault(re.sub(r"\(.*?\)", "", h), c.key)
    return out


_PERSON_NAMES = _names(PERSON_COLUMNS)
_VILLAGE_NAMES = _names(VILLAGE_COLUMNS)


def _key(names: dict[str, str], text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    h = normalize_header(text)
    return names.get(h) or names.get(re.sub(r"\(.*?\)|【.*?】|\[.*?\]", "", h)) if h else None


def person_header(values: Iterable[Any]) -> dict[str, int]:
    """The 监测对象信息 columns a header row names: key → 0-based index (the first of repeats)."""
    found: dict[str, int] = {}
    for i, v in enumerate(values):
        key = _key(_PERSON_NAMES, v)
        if key and key not in found:
            found[key] = i
    return found


def village_header(values: Iterable[Any]) -> dict[str, int]:
    """The 行政村信息 columns a header row names."""
    found: dict[str, int] = {}
    for i, v in enumerate(values):
        key = _key(_VILLAGE_NAMES, v)
        if key and key not in found:
            found[key] = i
    return found


def missing_person_columns(columns: dict[str, int]) -> list[str]:
    missing = [PERSON_BY_KEY[k].header for k in PERSON_REQUIRED if k not in columns]
    if "household_type" not in columns and "monitoring_category" not in columns:
        missing.append("户类型 或 监测对象类别")
    return missing


def missing_village_columns(columns: dict[str, int]) -> list[str]:
    return [VILLAGE_BY_KEY[k].header for k in VILLAGE_REQUIRED if k not in columns]


def is_person_header(columns: dict[str, int]) -> bool:
    """A header of the 监测对象信息 export: one row per person (证件号码 and 与户主关系)."""
    return "id_number" in columns and "relation" in columns


def is_village_header(columns: dict[str, int]) -> bool:
    return "population" in columns and "village" in columns
