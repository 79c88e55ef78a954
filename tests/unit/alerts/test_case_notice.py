"""The village 公示 of a case, rendered without servers: it shows the masked name, the
village, the kind, the risks, the period and how to object — and never an ID number,
a phone, a bank account or a health detail, whatever the household's records hold."""

import re
from datetime import date, datetime

from services.alerts.case_deadlines import TZ
from services.alerts.case_notice import build_notice, mask_name, notice_filename, proposed_kind, render_notice

HEAD_ID = "53232519650412002X"
MEMBER_ID = "532325200501010011"
PHONE = "13987812345"
BANK = "6217853100012345678"
HEALTH = "患尿毒症(长期透析)"
DIAGNOSIS = "慢性肾功能衰竭"

HOUSEHOLD = {
    "id": 7, "household_no": "5323251002010001", "head_name": "张晓明", "head_id_number": HEAD_ID, "phone": PHONE,
    "bank_account": BANK, "category": "脱贫户", "members": 3, "labourers": 1, "no_labour_capacity": False,
    "health": HEALTH, "village_name": "栋川东村", "township_name": "栋川镇", "county_name": "姚安县",
    "member_list": [{"name": "张晓明", "id_number": HEAD_ID, "health": HEALTH, "phone": PHONE},
                    {"name": "张小军", "id_number": MEMBER_ID, "health": DIAGNOSIS, "bank_account": BANK}],
}
CASE = {
    "id": 41, "run": 1, "fast_path": False, "monitoring_kind": None, "stage": "notice", "status": "open",
    "notice_ends_at": datetime(2023, 3, 9, 0, 0, tzinfo=TZ), "village_code": "532325100201",
    "detail": {"findings": f"户主{HEALTH},{DIAGNOSIS};联系电话{PHONE};一卡通{BANK};身份证{HEAD_ID}"},
}
PUBLISHED = datetime(2023, 3, 3, 15, 0, tzinfo=TZ)
ID18 = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
PHONE11 = re.compile(r"(?<!\d)1\d{10}(?!\d)")
BANK_NO = re.compile(r"(?<!\d)\d{16,19}(?!\d)")


def rendered(case=CASE, household=HOUSEHOLD, causes=("medical", "income")) -> str:
    return render_notice(build_notice(case, household, list(causes), PUBLISHED))


def test_the_notice_never_shows_id_numbers_phones_bank_accounts_or_health():
    html = rendered()
    for secret in (HEAD_ID, MEMBER_ID, PHONE, BANK, HEALTH, DIAGNOSIS, "尿毒症", "透析", HEAD_ID[-4:] + "<"):
        assert secret not in html, secret
    assert not ID18.search(html)
    assert not PHONE11.search(html)
    assert not BANK_NO.search(html)
    assert "张晓明" not in html, "the head's name is masked"


def test_the_notice_shows_what_a_village_notice_shows():
    html = rendered()
    assert "张*明" in html
    assert "栋川东村" in html and "栋川镇" in html
    assert "脱贫不稳定户" in html, "a 脱贫户 at risk is proposed as 脱贫不稳定户"
    assert "因病" in html and "收入骤减或支出骤增" in html
    assert "2023年3月3日至2023年3月8日" in html, "from the day it is posted to the day before notice_ends_at"
    assert "异议" in html and "栋川镇人民政府" in html
    assert "@media print" in html


def test_a_confirmed_case_prints_its_kind_and_markup_in_names_is_escaped():
    html = rendered(case={**CASE, "monitoring_kind": "边缘易致贫户"},
                    household={**HOUSEHOLD, "head_name": "王<script>五", "village_name": "新<b>村"})
    assert "边缘易致贫户" in html and "认定公示" in html
    assert "<script>" not in html and "新&lt;b&gt;村" in html


def test_names_are_masked_as_national_notices_do():
    assert [mask_name(n) for n in ("张晓明", "李四", "欧阳春花", "王")] == ["张*明", "李*", "欧**花", "王"]


def test_the_proposed_kind_follows_the_category_and_the_fast_path():
    assert proposed_kind("脱贫户", False) == "脱贫不稳定户"
    assert proposed_kind("一般农户", False) == "边缘易致贫户"
    assert proposed_kind("一般农户", True) == "突发严重困难户"


def test_unknown_causes_fall_back_to_a_general_risk_and_the_file_is_named_by_village():
    html = rendered(causes=("village",))
    assert "存在返贫致贫风险" in html
    notice = build_notice(CASE, HOUSEHOLD, [], PUBLISHED)
    assert notice.ends_on == date(2023, 3, 8)
    assert notice_filename(notice) == "公示-栋川东村-案件41.html"
