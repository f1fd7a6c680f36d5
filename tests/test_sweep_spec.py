"""The text of a sweep: ranges with a count or a step, lists, scenario keys, and one-line errors."""

from __future__ import annotations

import pytest

from bcastsim._errors import InputError
from bcastsim.sim._sweep_spec import parse_setting, parse_sweep, toml_value


@pytest.mark.parametrize(
    ("text", "key", "values"),
    [
        ("clients=500..10000:8", "clients", [500, 1857, 3214, 4571, 5929, 7286, 8643, 10000]),
        ("clients=100..400:+100", "clients", [100, 200, 300, 400]),
        ("clients=100..350:+100", "clients", [100, 200, 300, 350]),
        ("clients=500..10000", "clients", [500, 1857, 3214, 4571, 5929, 7286, 8643, 10000]),
        ("seed=1..4", "seed", [1, 2, 3, 4]),
        ("seed=3,5,9", "seed", [3, 5, 9]),
        ("seed=7..7", "seed", [7]),
        ("clients=10..12:8", "clients", [10, 11, 12]),
        ("plan=pro,team", "plan", ["pro", "team"]),
        ("architectures=broadcast:pg_notify,broadcast", "architectures", ["broadcast:pg_notify", "broadcast"]),
        ("network.median_ms=20..80:+20", "network.median_ms", [20, 40, 60, 80]),
        ("network.sigma=0.2..0.5:4", "network.sigma", [0.2, 0.3, 0.4, 0.5]),
        ("scenario.profile=seed,recommended", "scenario.profile", ["seed", "recommended"]),
    ],
)
def test_a_spec_gives_its_values_in_order(text: str, key: str, values: list[object]) -> None:
    """a..b:N is N evenly spaced points, a..b:+S every S with b included, a..b at most 8, a,b,c a list."""
    assert parse_sweep(text) == (key, values)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("clients", "not KEY=VALUES"),
        ("clients=", "not KEY=VALUES"),
        ("clients=10000..500", "runs backwards"),
        ("clients=500..10000:0", "count after ':'"),
        ("clients=500..10000:2.5", "count after ':'"),
        ("clients=500..10000:+0", "step must be positive"),
        ("clients=500..10000:+2.5", "needs a whole step"),
        ("clients=5.5..10", "ends must be whole numbers"),
        ("clients=a..b", "'a' is not a number"),
        ("clients=100,abc", "'abc' is not a whole number"),
        ("clients=100,,200", "an empty value"),
        ("seed=1,1", "listed twice"),
        ("network.sigma=nan,1", "not a finite number"),
    ],
)
def test_a_bad_spec_is_one_line_with_an_example(text: str, why: str) -> None:
    """Every malformed --sweep names the argument, the reason and a working example."""
    with pytest.raises(InputError) as caught:
        parse_sweep(text)
    line = caught.value.one_line()
    assert why in line
    assert "e.g. --sweep clients=500..10000:8" in line
    assert "\n" not in line


def test_a_setting_reads_back_what_the_replay_writes() -> None:
    """--set section.key=value parses the value toml_value printed, for numbers, booleans and words."""
    for value in (10, 0.25, True, "recommended", "two words"):
        assert parse_setting(f"scenario.x={toml_value(value)}") == ("scenario", "x", value)
    with pytest.raises(InputError, match=r"SECTION\.KEY=VALUE"):
        parse_setting("admins=3")
