"""CSBOT_HANDOFF_OFFLINE_GRACE_SECONDS: a bad value stops start-up naming it."""

from __future__ import annotations

import pytest

from tests.core.test_settings import load_settings


@pytest.mark.parametrize("value", ["soon", "nan", "4.9", "0"])
def test_a_bad_offline_grace_stops_start_up_naming_it(tmp_path, value):
    result = load_settings(tmp_path, CSBOT_HANDOFF_OFFLINE_GRACE_SECONDS=value)
    assert result.returncode != 0
    last = result.stderr.splitlines()[-1]
    assert "ImproperlyConfigured" in last
    assert "CSBOT_HANDOFF_OFFLINE_GRACE_SECONDS" in last
