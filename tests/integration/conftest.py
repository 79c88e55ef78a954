"""Every test in this folder needs real servers (from the fixtures of tests/conftest.py):
mark them `integration` so `-m "not integration"` skips them."""

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)
