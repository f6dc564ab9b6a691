"""Network profiles and the network-floor model (no sockets)."""

from __future__ import annotations

import json
import math

import pytest

from harness.errors import PlanError
from harness.network import PRESETS, NetworkProfile, ProfileError, UnknownProfileError, get_profile
from harness.network.floor import network_floor_ms, transfer_ms, wire_bytes

REQUIRED = {
    "direct",
    "broadband",
    "office-wifi",
    "vpn",
    "fast-4g",
    "slow-4g",
    "3g",
    "wpt-cable",
    "wpt-dsl",
    "wpt-3g",
    "wpt-edge",
}


def test_presets_cover_the_named_links_and_cite_a_source() -> None:
    assert set(PRESETS) >= REQUIRED
    for name, profile in PRESETS.items():
        assert profile.name == name
        assert profile.source, f"{name} must cite its source"


def test_only_direct_shapes_nothing() -> None:
    assert PRESETS["direct"].is_direct
    assert [n for n, p in PRESETS.items() if p.is_direct] == ["direct"]
    for profile in PRESETS.values():
        assert profile.rtt_ms >= 0 and profile.loss_pct < 100


def test_slow_4g_matches_devtools_and_lighthouse() -> None:
    p = get_profile("slow-4g")
    assert (p.rtt_ms, p.down_kbit, p.up_kbit, p.jitter_ms, p.loss_pct) == (150, 1600, 750, 0, 0)
    assert "Slow 4G" in p.source and "mobileSlow4G" in p.source


@pytest.mark.parametrize(
    ("name", "rtt", "down", "up"),
    [
        ("fast-4g", 60, 9000, 1500),  # DevTools Fast 4G
        ("3g", 300, 700, 700),  # Lighthouse mobileRegular3G
        ("wpt-cable", 28, 5000, 1000),
        ("wpt-dsl", 50, 1500, 384),
        ("wpt-3g", 300, 1600, 768),
        ("wpt-edge", 840, 240, 200),
        ("broadband", 28, 5000, 1000),  # chosen: WPT Cable
        ("vpn", 108, 5000, 1000),  # broadband + 80 ms
    ],
)
def test_preset_numbers_match_the_reference(name: str, rtt: float, down: float, up: float) -> None:
    p = get_profile(name)
    assert (p.rtt_ms, p.down_kbit, p.up_kbit) == (rtt, down, up)


def test_office_wifi_is_busy_shared_wifi() -> None:
    p = get_profile("office-wifi")
    assert (p.rtt_ms, p.jitter_ms, p.down_kbit, p.up_kbit, p.loss_pct) == (40, 10, 10240, 5120, 0.5)


def test_unknown_profile_lists_known_names_and_is_a_key_error() -> None:
    with pytest.raises(UnknownProfileError) as info:
        get_profile("5g")
    assert isinstance(info.value, KeyError) and isinstance(info.value, PlanError)
    message = str(info.value)
    assert message.startswith("unknown network profile '5g'")
    for name in REQUIRED:
        assert name in message


def test_round_trip_through_dict_and_json() -> None:
    for profile in PRESETS.values():
        again = NetworkProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
        assert again == profile


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"name": "x", "rtt_ms": -1}, "rtt_ms"),
        ({"name": "x", "down_kbit": 0}, "down_kbit"),
        ({"name": "x", "up_kbit": math.inf}, "up_kbit"),
        ({"name": "x", "loss_pct": 100}, "loss_pct"),
        ({"name": "x", "jitter_ms": "5"}, "jitter_ms"),
        ({"name": "x", "rtt": 5}, "rtt"),
        ({"rtt_ms": 5}, "name"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_profiles_name_the_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(ProfileError) as info:
        NetworkProfile.from_dict(data)
    assert isinstance(info.value, ValueError)
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}: ")


def test_wire_bytes_count_66_header_bytes_per_started_segment() -> None:
    assert wire_bytes(0) == 0
    assert wire_bytes(1) == 67
    assert wire_bytes(1448) == 1448 + 66
    assert wire_bytes(1449) == 1449 + 2 * 66
    big = 10_000_000
    assert wire_bytes(big) == pytest.approx(big * (1 + 66 / 1448), rel=1e-4)


def test_transfer_time_is_bits_over_rate() -> None:
    assert transfer_ms(1448, 1000) == pytest.approx((1448 + 66) * 8 / 1000)
    assert transfer_ms(10**9, None) == 0


def test_a_100_kb_body_can_never_meet_300_ms_at_2_mbit() -> None:
    link = NetworkProfile("2mbit", down_kbit=2000, up_kbit=2000)  # not even with zero RTT
    assert network_floor_ms(link, 100 * 1024) > 300
    assert network_floor_ms(link, 100 * 1024, response_head_bytes=0, request_bytes=0) == pytest.approx(
        wire_bytes(102400) * 8 / 2000
    )


def test_round_trips_one_per_request_plus_new_connection_plus_tls() -> None:
    link = NetworkProfile("rtt", rtt_ms=100)
    assert network_floor_ms(link, 1024) == 100
    assert network_floor_ms(link, 1024, new_connection=True) == 200
    assert network_floor_ms(link, 1024, new_connection=True, tls=True) == 300
    assert network_floor_ms(link, 1024, new_connection=True, tls=True, tls_round_trips=2) == 400
    assert network_floor_ms(PRESETS["direct"], 10**7) == 0


def test_floor_matches_the_worked_figures_of_the_reference() -> None:
    # network-presets.md, 100 ms RTT, 2 Mbit/s: model 205 / 629 ms new connection, 105 / 529 ms kept alive.
    # Within 2 ms: our defaults count a 300-byte request and a 200-byte response head, ~1.6 ms at 2 Mbit/s.
    link = NetworkProfile("ref", rtt_ms=100, down_kbit=2000, up_kbit=2000)
    assert network_floor_ms(link, 1024, new_connection=True) == pytest.approx(205, abs=2)
    assert network_floor_ms(link, 100 * 1024, new_connection=True) == pytest.approx(629, abs=2)
    assert network_floor_ms(link, 1024) == pytest.approx(105, abs=2)
    assert network_floor_ms(link, 100 * 1024) == pytest.approx(529, abs=2)


def test_slow_4g_floor_for_a_typical_api_call() -> None:
    # 150 ms RTT, 300 B up at 750 kbit/s, 20 KB + head down at 1.6 Mbit/s
    floor = network_floor_ms(get_profile("slow-4g"), 20_000)
    assert floor == pytest.approx(150 + wire_bytes(300) * 8 / 750 + wire_bytes(20_200) * 8 / 1600)
    assert 255 < floor < 265


def test_negative_sizes_are_rejected() -> None:
    with pytest.raises(ValueError):
        network_floor_ms(PRESETS["direct"], -1)
