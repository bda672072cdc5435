"""Distances and the WGS-84 ↔ GCJ-02 conversion."""
import pytest

from service import geo


def test_distance_matches_a_hand_computed_value():
    # One degree of latitude on the mean sphere: 2πR/360.
    assert geo.distance_m(31.0, 121.0, 32.0, 121.0) == pytest.approx(111195.08, abs=0.5)
    assert geo.distance_m(31.2, 121.4, 31.2, 121.4) == 0


@pytest.mark.parametrize("wgs, gcj", [
    # Published pairs (Tiananmen; Shanghai People's Square), each within a metre.
    ((39.90875, 116.39745), (39.91015, 116.40369)),
    ((31.23040, 121.47370), (31.22846, 121.47822)),
])
def test_wgs84_to_gcj02_reference_pairs(wgs, gcj):
    lat, lng = geo.wgs84_to_gcj02(*wgs)
    assert geo.distance_m(lat, lng, *gcj) < 1.5


def test_round_trip_within_a_metre_across_shanghai():
    for lat in (30.8, 31.0, 31.23, 31.4, 31.6):
        for lng in (121.0, 121.3, 121.47, 121.8):
            back = geo.gcj02_to_wgs84(*geo.wgs84_to_gcj02(lat, lng))
            assert geo.distance_m(lat, lng, *back) < 1.0


def test_outside_china_is_unchanged():
    assert geo.wgs84_to_gcj02(51.5, -0.12) == (51.5, -0.12)
