"""Memory: the linear fit and its extrapolation, high-water marks, child failures."""

import pytest

from snnbench.studies.profile import memory


def test_fit_growth_by_hand():
    # bytes = 1000 + 50 * batch exactly; limit 6000 -> (6000 - 1000) / 50 = 100
    growth = memory.fit_growth([1, 16, 64], [1050, 1800, 4200], limit_bytes=6000)
    assert growth.bytes_per_sample == pytest.approx(50)
    assert growth.intercept_bytes == pytest.approx(1000)
    assert growth.r2 == pytest.approx(1.0)
    assert growth.batch_at_limit == pytest.approx(100)
    assert growth.n_points == 3


def test_fit_growth_without_growth_or_points():
    assert memory.fit_growth([4, 4], [1.0, 2.0], 10.0) is None
    flat = memory.fit_growth([1, 2], [5.0, 4.0], 10.0)
    assert flat.bytes_per_sample == pytest.approx(-1) and flat.batch_at_limit is None
    assert memory.fit_growth([1, 2], [1.0, 2.0], None).batch_at_limit is None


def test_high_water_marks_are_plausible():
    current = memory.current_rss_bytes()  # read first: the peak can only have grown since
    assert memory.peak_rss_bytes() >= current > 10 * 2**20
    assert memory.machine_memory_bytes() > memory.peak_rss_bytes()
