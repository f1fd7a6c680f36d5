"""bcastsim simulate --sweep: a table, or with --plot DIR the PNGs, sweep.csv and sweep.json, deterministic."""

from __future__ import annotations

import csv
import io
import json
import shlex
from pathlib import Path

import pytest

from _sim_support import TINY
from bcastsim.cli import main
from bcastsim.sim import simulate
from bcastsim.sim._plot import plot_file_name
from bcastsim.sim._sweep import HEADLINE

_PLOTTED = sorted(plot_file_name(h) for h in HEADLINE if h.plot)
_SWEEP = ["simulate", str(TINY), "--sweep", "clients=20..60:3", "--arch", "broadcast,postgres_changes"]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def plotted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("plot")
    assert main([*_SWEEP, "--jobs", "2", "--plot", str(directory)]) == 0
    return directory


def test_plot_file_names_say_the_unit_they_plot() -> None:
    """A plot's file name ends in the unit on its y axis: the database time is plotted in seconds, WAL in MB."""
    assert "realtime_db_time_s.png" in _PLOTTED
    assert "peak_retained_wal_mb.png" in _PLOTTED
    assert "latency_p99_ms.png" in _PLOTTED
    assert not any(name.endswith(("_bytes.png",)) or name == "realtime_db_time_ms.png" for name in _PLOTTED)


def test_plot_writes_one_png_per_headline_metric_and_the_data(plotted: Path) -> None:
    """--plot DIR holds a PNG per plotted metric, sweep.csv and sweep.json, and nothing else."""
    assert sorted(p.name for p in plotted.iterdir()) == sorted([*_PLOTTED, "sweep.csv", "sweep.json"])
    for name in _PLOTTED:
        assert (plotted / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_the_csv_has_a_row_per_cell_and_run_with_the_swept_value(plotted: Path) -> None:
    """sweep.csv: 3 client counts × 2 architectures, each row with its clients value and a fingerprint."""
    rows = list(csv.DictReader(io.StringIO((plotted / "sweep.csv").read_text(encoding="utf-8"))))
    assert [(r["clients"], r["run"]) for r in rows] == [
        (str(c), run) for c in (20, 40, 60) for run in ("broadcast:realtime.send", "postgres_changes")
    ]
    assert all(len(r["fingerprint"]) == 64 and r["messages_per_s"] for r in rows)


def test_each_cell_replays_to_its_fingerprint(plotted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The replay command of a sweep.json cell gives the cell's fingerprint, as simulate() does."""
    data = json.loads((plotted / "sweep.json").read_text(encoding="utf-8"))
    assert data["grid"] == {"clients": [20, 40, 60]}
    cell = data["cells"][1]
    assert cell["point"] == {"clients": 40}
    status, out, _err = _run(capsys, *shlex.split(cell["replay"])[1:], "--format", "json")
    assert status == 0
    assert json.loads(out)["fingerprint"] == cell["fingerprint"]
    direct = simulate(TINY, clients=40, architectures=["broadcast", "postgres_changes"], compare_profiles=())
    assert cell["fingerprint"] == direct.fingerprint


def test_the_same_sweep_gives_byte_identical_files(plotted: Path, tmp_path: Path) -> None:
    """Run again serially (--jobs 1): the CSV, the JSON and every PNG are the same bytes."""
    assert main([*_SWEEP, "--jobs", "1", "--plot", str(tmp_path)]) == 0
    for path in plotted.iterdir():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_without_plot_the_sweep_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    """One header and one line per cell and run label, the swept value first."""
    status, out, _err = _run(capsys, "simulate", str(TINY), "--sweep", "clients=20,30", "--arch", "broadcast")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["clients", "seed", "run"]
    assert [line.split()[0] for line in lines[1:]] == ["20", "30"]


def test_a_grid_of_two_keys_runs_every_combination(capsys: pytest.CaptureFixture[str]) -> None:
    """--sweep plan=pro,team --sweep seed=1..2 is four cells, the first key varying slowest."""
    status, out, _err = _run(
        capsys, "simulate", str(TINY), "--clients", "20", "--arch", "broadcast",
        "--sweep", "plan=pro,team", "--sweep", "seed=1..2", "--format", "json",
    )  # fmt: skip
    assert status == 0
    points = [cell["point"] for cell in json.loads(out)["cells"]]
    assert points == [{"plan": p, "seed": s} for p in ("pro", "team") for s in (1, 2)]


def test_a_scenario_key_is_swept_and_replayed_with_set(capsys: pytest.CaptureFixture[str]) -> None:
    """--sweep network.median_ms=20,80 changes the run, and each replay carries --set network.median_ms=N."""
    status, out, _err = _run(
        capsys, "simulate", str(TINY), "--clients", "20", "--arch", "broadcast",
        "--sweep", "network.median_ms=20,80", "--format", "json",
    )  # fmt: skip
    assert status == 0
    cells = json.loads(out)["cells"]
    assert [c["replay"].endswith(f"--set network.median_ms={n}") for c, n in zip(cells, (20, 80), strict=True)] == [
        True,
        True,
    ]
    send = "broadcast:realtime.send"
    assert cells[0]["runs"][send]["latency_p99_ms"] < cells[1]["runs"][send]["latency_p99_ms"]
    direct = simulate(
        TINY, clients=20, architectures=["broadcast"], compare_profiles=(), settings={"network": {"median_ms": 80}}
    )
    assert cells[1]["runs"][send]["latency_p99_ms"] == direct.runs[0].metrics[send]["latency_ms"]["all"]["p99"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sweep", "clients=10000..500"], "runs backwards"),
        (["--sweep", "client=1,2"], "unknown sweep key 'client'"),
        (["--sweep", "plan=pro,gold"], 'unknown plan "gold"'),
        (["--sweep", "profile=seed,nope"], "nope"),
        (["--sweep", "clients=0,10"], "sweep clients"),
        (["--sweep", "network.median=1,2"], "no key 'median' in [network]"),
        (["--sweep", "netwrk.median_ms=1,2"], "no section [netwrk]"),
        (["--sweep", "network.median_ms=a,b"], "is a float"),
        (["--sweep", "seed=1,2", "--seeds", "1-2"], "swept twice"),
        (["--sweep", "seed=1,2", "--sweep", "seed=3"], "given twice"),
        (["--sweep", "seed=1,2", "--jobs", "0"], "--jobs 0"),
        (["--sweep", "seed=1,2", "--out", "x"], "--out writes one run's report"),
        (["--plot", "x"], "belong to a sweep"),
        (["--set", "network.median_ms=x"], "is a float"),
    ],
)
def test_bad_sweeps_are_one_line_before_any_run(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A bad spec, key or value exits 2 with one line, before any cell runs and before any file is written."""
    status, out, err = _run(capsys, "simulate", str(TINY), "--clients", "20", *argv)
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert out == ""


def test_nothing_is_half_written_when_the_plot_directory_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--plot naming a file fails in one line and leaves no CSV, JSON or PNG behind."""
    target = tmp_path / "plots"
    target.write_text("not a directory", encoding="utf-8")
    status, _out, err = _run(
        capsys, "simulate", str(TINY), "--sweep", "clients=20,30", "--jobs", "1", "--plot", str(target)
    )
    assert status == 2
    assert "--plot is not a directory" in err or "cannot create" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plots"]


def test_plot_without_matplotlib_is_one_line_naming_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where matplotlib is not installed, --plot says to install the plot extra and writes nothing."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    target = tmp_path / "plots"
    status, _out, err = _run(
        capsys, "simulate", str(TINY), "--sweep", "clients=20", "--jobs", "1", "--plot", str(target)
    )
    assert status == 2
    assert "--plot needs matplotlib" in err
    assert "[plot]" in err
    assert not target.exists()
