"""The idempotency keys the task and case workflows' Updates remember."""

import pytest

from workflows.idempotency import RecentKeys


def test_a_key_is_new_then_repeated_and_refused_for_another_action():
    keys = RecentKeys(kept=3)
    assert not keys.repeated("k1", "submit:7")
    keys.add("k1", "submit:7")
    assert "k1" in keys and keys.repeated("k1", "submit:7")
    with pytest.raises(ValueError, match="幂等键已用于另一操作"):
        keys.repeated("k1", "approve:7")


def test_only_the_latest_keys_are_kept_and_they_travel_as_a_dict():
    keys = RecentKeys({"a": "x", "b": "x"}, kept=3)
    for k in ("c", "d", "e"):
        keys.add(k, "x")
    assert list(keys.keys) == ["c", "d", "e"]
    assert "a" not in keys and not keys.repeated("a", "y")
    assert RecentKeys(keys.keys, kept=3).repeated("e", "x"), "what continue-as-new carries is enough"
