"""The event loop, the random tree and run-to-run determinism."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

from _sim_support import TINY, tiny
from bcastsim.sim import Engine, RandomTree, render_json, render_text, simulate, sub_seed


def test_ties_run_in_priority_then_insertion_order() -> None:
    """Callbacks at one virtual time run by priority, then in the order they were scheduled."""
    engine = Engine()
    seen: list[str] = []
    engine.at(5.0, seen.append, "late-low", priority=9)
    engine.at(5.0, seen.append, "first")
    engine.at(5.0, seen.append, "second")
    engine.at(5.0, seen.append, "urgent", priority=0)
    engine.at(1.0, seen.append, "earlier")
    engine.run(10.0)
    assert seen == ["earlier", "urgent", "first", "second", "late-low"]


def test_a_timeline_runs_in_the_order_single_schedules_would() -> None:
    """Events scheduled together with at_each interleave with the heap's exactly as one at() each would."""

    def schedule(engine: Engine, seen: list[str], together: bool) -> None:
        engine.at(2.0, seen.append, "heap-2")
        engine.at(3.0, seen.append, "heap-3-low", priority=9)
        timed = [(1.0, seen.append, ("w-1",)), (3.0, seen.append, ("w-3",)), (3.0, seen.append, ("w-3b",))]
        timed += [(0.5, seen.append, ("w-out-of-order",)), (7.0, seen.append, ("w-7",))]
        if together:
            engine.at_each(timed, priority=4)
        else:
            for time_ms, callback, args in timed:
                engine.at(time_ms, callback, *args, priority=4)
        engine.at(3.0, seen.append, "heap-3-urgent", priority=0)
        engine.at(3.0, seen.append, "heap-3-tie", priority=4)

    orders = []
    for together in (False, True):
        engine = Engine()
        seen: list[str] = []
        schedule(engine, seen, together)
        engine.run(5.0)
        assert engine.now == 5.0
        engine.run(10.0)  # what was left after the first run runs in the second
        orders.append(seen)
    assert orders[0] == orders[1]
    assert orders[1] == [
        "w-out-of-order",
        "w-1",
        "heap-2",
        "heap-3-urgent",
        "w-3",
        "w-3b",
        "heap-3-tie",
        "heap-3-low",
        "w-7",
    ]


def test_trace_lines_keep_their_bytes_for_any_number_of_details() -> None:
    """A trace line is the time to 3 places, the kind and each detail as str(), joined by bars, however many."""
    engine = Engine()
    engine.now = 1.23456
    details: tuple[object, ...] = (1, "a", 2.5, True, None, (1, 2))
    engine.record("k", *details)
    engine.record("many", *range(40))
    engine.record("none")
    engine.record("p%s", "50%", "%d")
    engine.record("many%", *range(39), "%s")
    many = "|".join(map(str, range(40)))
    more = "|".join(map(str, range(39)))
    expected = hashlib.sha256(
        f"1.235|k|1|a|2.5|True|None|(1, 2)\n1.235|many|{many}\n1.235|none|\n"
        f"1.235|p%s|50%|%d\n1.235|many%|{more}|%s\n".encode()
    )
    assert engine.fingerprint() == expected.hexdigest()


def test_callbacks_never_run_in_the_past() -> None:
    """Scheduling before the current time runs the callback now, never moves the clock back."""
    engine = Engine()
    times: list[float] = []

    def at_three() -> None:
        engine.at(1.0, lambda: times.append(engine.now))

    engine.at(3.0, at_three)
    engine.run(10.0)
    assert times == [3.0]


def test_the_fingerprint_hashes_every_trace_line_in_order() -> None:
    """The fingerprint is the SHA-256 of the trace lines in order, however many are kept before hashing."""
    engine = Engine()
    expected = hashlib.sha256()
    for k in range(10_000):  # more than one batch of lines
        engine.now = k / 4
        engine.record("event", k, "x")
        expected.update(f"{k / 4:.3f}|event|{k}|x\n".encode())
        if k == 5_000:
            assert engine.fingerprint() == expected.hexdigest()  # a fingerprint mid-run, then more lines
    assert engine.fingerprint() == expected.hexdigest()


def test_streams_are_independent_of_draw_order() -> None:
    """A named stream gives the same numbers whether or not other streams were used first."""
    tree = RandomTree(42)
    alone = [tree.stream("network").random() for _ in range(3)]
    other = RandomTree(42)
    other.stream("workload").random()
    assert [other.stream("network").random() for _ in range(3)] == alone
    assert sub_seed(42, "network") != sub_seed(43, "network")
    assert tree.child("a").stream("b").random() == RandomTree(42).stream("a/b").random()


def test_same_seed_same_report_in_process() -> None:
    """Two runs with one seed render byte-identical text and JSON; another seed differs."""
    first = simulate(tiny(), seed=5)
    second = simulate(tiny(), seed=5)
    assert render_text(first) == render_text(second)
    assert render_json(first) == render_json(second)
    assert first.fingerprint != simulate(tiny(), seed=6).fingerprint


def test_report_identical_across_processes() -> None:
    """The CLI prints the same bytes in processes with different hash seeds."""
    outputs = []
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-m", "bcastsim.cli", "simulate", str(TINY), "--seed", "11"],
            capture_output=True,
            env=env,
            check=True,
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    text = outputs[0].decode()
    assert text.startswith("bcastsim simulate · scenario tiny · seed 11\nreplay: bcastsim simulate ")
    assert "--seed 11" in text.splitlines()[1]
    assert text.rstrip().splitlines()[-1].startswith("fingerprint: sha256:")


def test_replay_command_reproduces_the_report() -> None:
    """Running the report's replay command gives the same fingerprint."""
    report = simulate(tiny(), seed=3, clients=40, plan="pro")
    args = report.replay_command.split()[2:]
    done = subprocess.run(
        [sys.executable, "-m", "bcastsim.cli", "simulate", *args], capture_output=True, check=True, text=True
    )
    assert done.stdout == render_text(report)
