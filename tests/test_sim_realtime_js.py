"""realtime-js around a connection as the simulator plays it, timings from [timings.realtime_js] in profiles.toml."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from _sim_support import SEED_PAGE, ServerShutsChannels, one_topic_world, tiny
from bcastsim._errors import InputError
from bcastsim._realtime_js import load_realtime_js
from bcastsim.sim import FaultConfig, simulate

RTJS = load_realtime_js()


def test_timings_are_the_librarys() -> None:
    """25 s heartbeat, 1.5 s close wait, idle close after 2 heartbeats, 10 s push timeout (realtime-js 2.119.1)."""
    assert RTJS.heartbeat_ms == 25_000
    assert RTJS.close_wait_ms == 1_500
    assert RTJS.empty_disconnect_ms == 2 * RTJS.heartbeat_ms
    assert RTJS.push_timeout_ms == 10_000
    assert RTJS.hidden_tabs_wait_until_visible
    assert RTJS.one_channel_per_topic
    assert RTJS.joins_during_drop_sent_twice


@pytest.mark.parametrize("start_s", [26.0, 30.0, 40.0, 49.0, 60.0, 73.0])
def test_detection_takes_one_to_two_heartbeats_depending_on_phase(start_s: float) -> None:
    """A connection that dies for good is declared dead 25-50 s later, depending on where the beat cycle was."""
    dead = RTJS.detection_ms(0.0, start_s * 1000.0, float("inf"), rtt_ms=80.0)
    assert dead is not None
    assert 25_000 <= dead - start_s * 1000.0 <= 50_000 + 80


def test_short_outage_is_caught_only_when_a_heartbeat_falls_inside() -> None:
    """A 5 s outage around a heartbeat is noticed; the same outage between two beats is not."""
    assert RTJS.detection_ms(0.0, 23_000.0, 28_000.0, rtt_ms=80.0) == 50_000.0
    assert RTJS.detection_ms(0.0, 30_000.0, 35_000.0, rtt_ms=80.0) is None


def _partition(at_s: float, duration_s: float, **kw: object) -> FaultConfig:
    return FaultConfig(kind="partition", at_s=at_s, fraction=1.0, duration_s=duration_s, **kw)  # type: ignore[arg-type]


def test_partition_shorter_than_37_5_s_can_drop_the_socket() -> None:
    """A 25 s partition holding a heartbeat closes the socket one interval after that beat."""
    sim = one_topic_world(
        arch="broadcast:realtime.send", audience=10, writes=[(100_000.0, "bid")], faults=(_partition(30.0, 25.0),)
    )
    metrics = sim.metrics["broadcast:realtime.send"]
    assert metrics.heartbeat_timeouts == 10
    # Detected at the beat of ~50 s + 25 s, after the partition: the socket closes in one round trip (80 ms)
    # and the first reconnect follows the 1 s backoff.
    assert metrics.reconnect_ms == {1080.0: 10}


def test_partition_still_on_at_detection_waits_the_whole_close_wait() -> None:
    """Detected while the partition holds, the close never completes: 1.5 s close wait, then the 1 s backoff."""
    sim = one_topic_world(
        arch="broadcast:realtime.send", audience=10, writes=[(100_000.0, "bid")], faults=(_partition(30.0, 46.0),)
    )
    assert sim.metrics["broadcast:realtime.send"].reconnect_ms == {2500.0: 10}


def test_partition_between_two_heartbeats_goes_unnoticed() -> None:
    """A partition with no heartbeat inside it loses messages silently and never drops the socket."""
    sim = one_topic_world(
        arch="broadcast:realtime.send", audience=10, writes=[(31_000.0, "bid")], faults=(_partition(26.0, 20.0),)
    )
    metrics = sim.metrics["broadcast:realtime.send"]
    assert metrics.heartbeat_timeouts == 0
    assert metrics.lost_in_partition == 10
    assert metrics.updates_lost_while_subscribed == 10


def test_background_tabs_reconnect_only_when_looked_at() -> None:
    """After a restart, hidden tabs stay away until visible; visible ones follow the backoff at once."""
    restart = FaultConfig(kind="restart", at_s=1500.0, fraction=1.0, duration_s=5.0)
    base = attrs.evolve(tiny(), faults=(restart,))
    times = {}
    for share in (0.0, 1.0):
        scenario = base.with_population(hidden_share=share, hidden_for_s=300.0)
        report = simulate(scenario, architectures=["broadcast"], clients=40)
        times[share] = report.runs[0].metrics["broadcast:realtime.send"]["connections"]["reconnect_ms"]["p50"]
    assert times[0.0] is not None
    assert times[0.0] <= 10_000
    assert times[1.0] is not None
    assert times[1.0] > 30_000


def test_last_channel_closed_closes_the_socket_50_s_later() -> None:
    """Channels the server closes are removed; with none left the socket closes after 2 heartbeats."""
    sim = one_topic_world(
        arch="broadcast:realtime.send",
        audience=150,
        writes=[],
        page=SEED_PAGE[:1],
        duration_s=100.0,
        cls=ServerShutsChannels,
    )
    metrics = sim.metrics["broadcast:realtime.send"]
    assert metrics.violations["channels_closed_over_message_rate"] == 150
    assert metrics.sockets_closed_idle == 150
    series = dict(zip(metrics.series["time_s"], metrics.series["connected_clients"], strict=True))
    assert series[59.0] == 150
    assert series[61.0] == 0


def test_subscribing_during_a_drop_sends_two_joins() -> None:
    """Canvases that appear while clients are away are joined twice when the socket opens again."""
    # tiny's final starts at 1,740 s: drop everybody just before, for longer than that.
    drop = FaultConfig(kind="disconnect", at_s=1735.0, fraction=1.0, duration_s=20.0)
    report = simulate(attrs.evolve(tiny(), faults=(drop,)), architectures=["broadcast"], clients=30)
    assert report.runs[0].metrics["broadcast:realtime.send"]["limit_violations"]["joins_sent_twice"] > 0
    quiet = simulate(attrs.evolve(tiny(), faults=()), architectures=["broadcast"], clients=30)
    assert quiet.runs[0].metrics["broadcast:realtime.send"]["limit_violations"]["joins_sent_twice"] == 0


def test_a_bad_timing_is_a_one_line_input_error(tmp_path: Path) -> None:
    """A missing or non-numeric timing names the file, the line and the fix."""
    bad = tmp_path / "profiles.toml"
    text = Path(RTJS.source).read_text(encoding="utf-8").replace("close_poll_ms = 150", 'close_poll_ms = "soon"')
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as error:
        load_realtime_js(bad)
    assert "close_poll_ms" in str(error.value)
    assert error.value.line is not None
