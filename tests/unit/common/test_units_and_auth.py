"""Pure logic of the registry and authority: jurisdiction prefixes, principals, tokens."""

import time

import jwt
import pytest
import yaml
from fastapi import HTTPException

from services.common import auth
from services.common.auth import Principal, hash_password, issue_token, token_claims, verify_password
from services.common.config import get_settings
from services.common.units import code_prefix, jurisdiction_prefix, normalize_name
from services.demo.loader import REGISTRY_FILE
from services.demo.registry import expand, township_code


@pytest.mark.parametrize(
    "code, level, prefix",
    [
        ("000000000000", "nation", ""),
        ("530000000000", "province", "53"),
        ("532300000000", "city", "5323"),
        ("532325000000", "county", "532325"),
        ("532325100000", "township", "532325100"),
        ("532325100201", "village", "532325100201"),
    ],
)
def test_jurisdiction_prefix_by_level(code, level, prefix):
    assert jurisdiction_prefix(code, level) == prefix


def _principal(code: str, level: str, roles=("unit_staff",)) -> Principal:
    return Principal(1, "u", 1, "单位", code, level, tuple(roles))


def test_county_covers_its_townships_and_villages_only():
    county = _principal("532325000000", "county")
    assert county.covers_region("532325100000")
    assert county.covers_region("532325100201")
    assert not county.covers_region("532399000000")
    assert not county.covers_region("620400000000")


def test_township_does_not_cover_its_neighbour():
    town = _principal("532325100000", "township")
    assert town.covers_region("532325100201")
    assert not town.covers_region("532325101000")


def test_has_role():
    p = _principal("532325000000", "county", ("unit_staff", "data_entry"))
    assert p.has_role("data_entry")
    assert not p.has_role("office_admin", "leader")


def test_normalize_name_folds_full_width_brackets_and_spaces():
    assert normalize_name(" 县委宣传部（广电局）\u3000") == "县委宣传部(广电局)"


def test_password_hash_roundtrip():
    h = hash_password("correct horse")
    assert verify_password(h, "correct horse")
    assert not verify_password(h, "wrong horse")
    assert not verify_password("not-a-hash", "correct horse")


def test_token_carries_subject_and_expiry():
    token, ttl = issue_token(42, "someone", now=time.time(), ttl_s=60)
    claims = jwt.decode(token, get_settings().jwt_secret, algorithms=["HS256"])
    assert claims["sub"] == "42" and claims["username"] == "someone"
    assert claims["exp"] - claims["iat"] == ttl == 60


def test_expired_token_is_rejected_by_the_library():
    token, _ = issue_token(42, "someone", now=time.time() - 3600, ttl_s=60)
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(token, get_settings().jwt_secret, algorithms=["HS256"])


def test_a_token_checked_while_valid_is_refused_once_it_expires(monkeypatch):
    """The signature is checked once per token; the expiry on every request."""
    now = time.time()
    token, _ = issue_token(42, "someone", now=now, ttl_s=60)
    assert token_claims(token)["sub"] == "42"
    monkeypatch.setattr(auth.time, "time", lambda: now + 61)
    with pytest.raises(HTTPException) as refused:
        token_claims(token)
    assert refused.value.status_code == 401 and "过期" in refused.value.detail


@pytest.mark.parametrize("forge", [
    lambda claims: jwt.encode(claims, "another-secret-of-32-bytes-or-more!", "HS256"),
    lambda claims: jwt.encode({k: v for k, v in claims.items() if k != "exp"}, get_settings().jwt_secret, "HS256"),
    lambda claims: jwt.encode({**claims, "exp": "tomorrow"}, get_settings().jwt_secret, "HS256"),
    lambda claims: jwt.encode({**claims, "exp": float("inf")}, get_settings().jwt_secret, "HS256"),
    lambda claims: jwt.encode(claims, get_settings().jwt_secret, "HS256")[:-2] + "xx",
])
def test_forged_or_malformed_tokens_are_refused(forge):
    claims = {"sub": "42", "username": "someone", "iat": int(time.time()), "exp": int(time.time()) + 60}
    with pytest.raises(HTTPException) as refused:
        token_claims(forge(claims))
    assert refused.value.status_code == 401 and "无效" in refused.value.detail


def test_township_codes_separate_towns_and_xiang():
    assert township_code("532325000000", 0, "栋川镇") == "532325100000"
    assert township_code("532325000000", 6, "适中乡") == "532325206000"


def test_demo_registry_expands_without_duplicates():
    regions, units, groups = expand(yaml.safe_load(REGISTRY_FILE.read_text(encoding="utf-8")))
    codes = [r["code"] for r in regions]
    assert len(codes) == len(set(codes))
    keys = [(u.region_code, u.name) for u in units]
    assert len(keys) == len(set(keys))
    by_region = {}
    for u in units:
        for alias in u.aliases:
            assert (u.region_code, alias) not in by_region, f"alias {alias} twice in {u.region_code}"
            by_region[(u.region_code, alias)] = u.name
    yaoan_groups = {g.name: g for g in groups if g.region_code == "532325000000"}
    assert len(yaoan_groups["各乡镇党委、政府"].members) == 2 * 9
    assert ("532325000000", "县人力资源和社会保障局") in keys
    assert by_region[("532325000000", "县人社局")] == "县人力资源和社会保障局"


@pytest.mark.parametrize("code, prefix", [
    ("000000000000", ""), ("530000000000", "53"), ("532300000000", "5323"), ("532325000000", "532325"),
    ("532325100000", "532325100"), ("532325100201", "532325100201"), ("620400000000", "6204"),
])
def test_code_prefix_without_the_level(code, prefix):
    assert code_prefix(code) == prefix


def test_lockout_counts_failures_in_the_window_only():
    from datetime import datetime, timedelta, timezone

    from services.common.auth import lockout_seconds

    now = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
    ago = [now - timedelta(seconds=s) for s in (10, 20, 30, 40)]
    assert lockout_seconds(ago, now, 5, 900) == 0
    assert lockout_seconds([*ago, now - timedelta(seconds=100)], now, 5, 900) == 800  # oldest of five leaves at 900
    assert lockout_seconds([*ago, now - timedelta(seconds=1000)], now, 5, 900) == 0  # outside the window
    assert lockout_seconds([now] * 5, now, 5, 900) == 900
