"""The consumers' batch sizes: small at start, doubled while quick, halved when slow, so that
a batch is committed well within the group's max_poll_interval_ms."""

import pytest

from services.common.config import get_settings
from services.common.consumer_base import BatchSizer


def test_quick_full_batches_double_it_up_to_max_poll_records():
    sizer = BatchSizer(ceiling=2000, interval_s=3.0)
    sizes = []
    for _ in range(7):
        sizer.after(sizer.size, 0.1)
        sizes.append(sizer.size)
    assert sizes == [200, 400, 800, 1600, 2000, 2000, 2000]


def test_a_partial_or_middling_batch_leaves_it_alone():
    sizer = BatchSizer(ceiling=2000, interval_s=3.0, size=400)
    sizer.after(120, 0.05)  # the topic had fewer records than the size: nothing learnt
    assert sizer.size == 400
    sizer.after(400, 1.2)  # full, between a quarter and a half of the interval
    assert sizer.size == 400


def test_a_slow_batch_halves_what_it_held_down_to_the_floor():
    sizer = BatchSizer(ceiling=2000, interval_s=3.0, size=2000)
    sizer.after(2000, 1.6)  # over half of the interval
    assert sizer.size == 1000
    sizer.after(300, 2.5)  # a slow partial batch: half of what it held
    assert sizer.size == 150
    for _ in range(10):
        sizer.after(sizer.size, 9.0)
    assert sizer.size == sizer.floor == 10


def test_a_failed_commit_halves_it():
    sizer = BatchSizer(ceiling=2000, interval_s=3.0, size=800)
    sizer.shrink()
    assert sizer.size == 400


def test_it_never_exceeds_a_ceiling_below_the_floor():
    assert BatchSizer(ceiling=30, interval_s=3.0).size == 30  # the default start, 100, clamped
    sizer = BatchSizer(ceiling=4, interval_s=3.0, size=4)
    for _ in range(3):
        sizer.after(4, 9.0)  # slow: the floor (10) would be above max_poll_records
    assert sizer.size == 4
    sizer.after(4, 0.1)
    assert sizer.size == 4


@pytest.mark.parametrize(("records", "expected"), [("2000", 100), ("40", 40)])
def test_from_settings_starts_small_within_max_poll_records(monkeypatch, records, expected):
    monkeypatch.setenv("XIANJIE_KAFKA_MAX_POLL_RECORDS", records)
    monkeypatch.setenv("XIANJIE_KAFKA_MAX_POLL_INTERVAL_MS", "300000")
    get_settings.cache_clear()
    try:
        sizer = BatchSizer.from_settings()
    finally:
        get_settings.cache_clear()
    assert (sizer.size, sizer.ceiling, sizer.interval_s) == (expected, int(records), 300.0)
