"""How ``check`` and ``inspect`` scale with the number of trigger functions in the SQL.

Run with::

    .venv/bin/python benchmarks/bench_check_scale.py [--sizes 1000,10000]

For each size N it writes one SQL file with a table and N trigger functions, each
with its own trigger and a pg_notify of a JSON payload (so every function has a
notify site, a payload and a trigger to find), then times, in this process:

* **inspect** — reading the file into a catalog and building the JSON document
  ``bcastsim inspect --format json`` prints;
* **check** — every review rule over the same file, as ``bcastsim check`` runs them.

The figure of merit is seconds for 10,000 functions (goal: at most 10 s) and the
ratio of the largest to the smallest size's time, which stays close to the ratio
of the sizes when the work is linear (a quadratic path shows as its square). Both
wall-clock and CPU seconds of this process are printed: on a machine shared with
other work the wall clock also counts the time the process waited for a core.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bcastsim._commands.inspect import document
from bcastsim.review import check
from bcastsim.sqlmodel import load_catalog

_TABLE = "CREATE TABLE items (id uuid PRIMARY KEY, code text NOT NULL, amount numeric(10, 2));\n"
_FUNCTION = """
CREATE OR REPLACE FUNCTION notify_item_{i}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('item_{i}', json_build_object('type', 'item_{i}', 'id', NEW.id, 'code', NEW.code)::text);
  RETURN NEW;
END;
$$;
CREATE TRIGGER item_{i}_trigger AFTER INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION notify_item_{i}();
"""


def sql_with_functions(count: int) -> str:
    return _TABLE + "".join(_FUNCTION.format(i=i) for i in range(count))


Timing = tuple[float, float]  # (wall-clock seconds, CPU seconds)


def _timed(size: int, directory: Path) -> tuple[Timing, Timing]:
    path = directory / f"functions_{size}.sql"
    path.write_text(sql_with_functions(size))
    wall, cpu = time.perf_counter(), time.process_time()
    catalog = load_catalog([path])
    doc = document(catalog)
    inspect_s = (time.perf_counter() - wall, time.process_time() - cpu)
    assert doc["summary"]["functions"] == size, doc["summary"]
    wall, cpu = time.perf_counter(), time.process_time()
    report = check([path])
    check_s = (time.perf_counter() - wall, time.process_time() - cpu)
    assert len(report.entries) >= size, "every function should give at least one finding"
    return inspect_s, check_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated function counts")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    results: dict[int, tuple[Timing, Timing]] = {}
    with tempfile.TemporaryDirectory(prefix="bcastsim-bench-") as work:
        for size in sizes:
            results[size] = _timed(size, Path(work))
            (inspect_wall, inspect_cpu), (check_wall, check_cpu) = results[size]
            print(
                f"{size:>7,} functions   inspect {inspect_wall:6.2f} s ({inspect_cpu:6.2f} s CPU)   "
                f"check {check_wall:6.2f} s ({check_cpu:6.2f} s CPU)",
                flush=True,
            )
    low, high = min(sizes), max(sizes)
    if low != high:
        growth = results[high][1][1] / results[low][1][1]
        print(f"check CPU time grew {growth:.1f}x for {high / low:.0f}x the functions (linear: ~{high / low:.0f}x)")
    if 10_000 in results:
        wall, cpu = results[10_000][1]
        print(
            f"goal (10,000 functions checked in at most 10 s): {'met' if wall <= 10.0 else 'not met'} "
            f"by the wall clock ({wall:.1f} s), {'met' if cpu <= 10.0 else 'not met'} in CPU time ({cpu:.1f} s)"
        )


if __name__ == "__main__":
    main()
