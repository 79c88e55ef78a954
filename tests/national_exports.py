"""The national monitoring system's 监测对象信息 export built in its real shape, for the
tests: two title rows, the header on row 3, one row per person, the household's
fields repeated on every member's row, and columns the importer does not read."""

import io

from openpyxl import Workbook

from services.alerts.validation import ID_CHECK, ID_WEIGHTS

TITLES = (["全国防止返贫监测信息系统  2023年度监测对象信息"], ["导出单位:姚安县乡村振兴局", None, "导出时间:2024-01-05"])
HEADERS = ["序号", "县", "乡", "村", "户编号", "姓名", "证件号码", "证件类型", "与户主关系", "性别", "出生日期", "民族",
           "家庭成员联系电话", "户类型", "监测对象类别", "识别监测时间", "致贫/返贫风险1", "致贫/返贫风险2",
           "致贫/返贫风险3", "致贫/返贫风险4", "致贫/返贫风险5", "整户无劳动能力兜底保障户", "风险是否已消除", "风险消除方式",
           "消除监测时间", "文化程度", "健康状况", "劳动技能", "务工所在地", "公益性岗位(月数)", "工资性收入", "生产经营性收入",
           "财产性收入", "转移性收入", "人均纯收入（元）", "合规自付支出", "是否义务教育阶段适龄儿童少年失学辍学", "是否危房户",
           "是否解决安全饮用水", "是否有家庭成员未参加城乡居民（职工）基本医疗保险", "产业帮扶", "就业帮扶", "健康帮扶",
           "风险消除后工资性收入", "耕地面积（亩）", "是否通生活用电"]
NOT_READ = ["序号", "性别", "出生日期", "民族", "文化程度", "公益性岗位(月数)", "风险消除后工资性收入", "耕地面积（亩）",
            "是否通生活用电"]


def resident_id(seq: int, birth: str = "19800101") -> str:
    """A valid 18-digit resident ID (its check character computed)."""
    body = f"532325{birth}{seq % 1000:03d}"
    return body + ID_CHECK[sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


HOUSEHOLD = {"县": "姚安县", "乡": "栋川镇", "村": "栋川东村", "家庭成员联系电话": "13812345678", "户类型": "脱贫户",
             "监测对象类别": "边缘易致贫户", "识别监测时间": "202203", "致贫/返贫风险1": "因病", "致贫/返贫风险2": "因学",
             "整户无劳动能力兜底保障户": "否", "风险是否已消除": "否", "工资性收入": 18000, "生产经营性收入": -500,
             "财产性收入": 0, "转移性收入": 3600, "人均纯收入（元）": 6900, "合规自付支出": 12000,
             "是否义务教育阶段适龄儿童少年失学辍学": "否", "是否危房户": "否", "是否解决安全饮用水": "是",
             "是否有家庭成员未参加城乡居民（职工）基本医疗保险": "否", "产业帮扶": "其他,技能培训", "就业帮扶": "务工补助",
             "健康帮扶": None, "耕地面积（亩）": 3.5, "是否通生活用电": "是"}


def person(household: int, seq: int, relation: str = "户主", **change) -> dict:
    return {**HOUSEHOLD, "户编号": f"53232510020100{household:02d}", "姓名": f"成员{household}-{seq}",
            "证件号码": resident_id(household * 10 + seq), "证件类型": "居民身份证", "与户主关系": relation, "性别": "男",
            "出生日期": "19800101", "民族": "汉族", "文化程度": "初中", "健康状况": "健康", "劳动技能": "普通劳动力",
            "务工所在地": "昆明市" if seq == 1 else None, **change}


def family(household: int, size: int = 3, **change) -> list[dict]:
    relations = ["户主", "配偶", "之子", "之女", "之孙子"]
    return [person(household, i + 1, relations[i], **change) for i in range(size)]


def export(persons: list[dict], *, headers: list[str] = HEADERS, titles=TITLES, renamed: dict | None = None) -> bytes:
    """The 监测对象信息 export as downloaded: title rows, the header on row 3, a row per person."""
    wb = Workbook()
    ws = wb.active
    ws.title = "监测对象信息"
    for t in titles:
        ws.append(list(t))
    ws.append([(renamed or {}).get(h, h) for h in headers])
    for i, p in enumerate(persons, start=1):
        ws.append([i if h == "序号" else p.get(h) for h in headers])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
