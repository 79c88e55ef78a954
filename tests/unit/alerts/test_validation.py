"""ID number checks and masking."""

import pytest

from services.alerts.validation import certificate_problem, id_number_problem, mask_id, mask_phone

VALID = "11010519491231002X"  # the GB 11643 example


def test_a_valid_id_number_passes():
    assert id_number_problem(VALID) is None
    assert id_number_problem(VALID.lower()) is None


@pytest.mark.parametrize("value, words", [
    ("110105194912310021", "校验位"),
    ("11010519491331002X", "出生日期"),
    ("1101051949123100", "18位"),
    ("A1010519491231002X", "18位"),
])
def test_wrong_id_numbers_say_what_is_wrong(value, words):
    assert words in id_number_problem(value)


def test_disability_certificates_of_20_and_22_characters():
    assert certificate_problem(VALID + "41", "残疾人证") is None
    assert certificate_problem(VALID + "41A1", "残疾人证") is None
    assert "20或22位" in certificate_problem(VALID + "4", "残疾人证")
    assert "校验位" in certificate_problem("110105194912310021" + "41", "残疾人证")


def test_masking_keeps_only_the_ends():
    assert mask_id("532325199001011234") == "5323**********1234"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_id(None) is None and mask_id("") == ""
    assert mask_id("1234") == "****"
