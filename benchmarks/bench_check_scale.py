"""How ``check`` and ``inspect`` scale with the number of trigger functions, beside pglast's own parse.

Run with::

    python benchmarks/bench_check_scale.py [--sizes 1000,10000] [--runs 3] [--against DIR]
    python benchmarks/bench_check_scale.py --instructions --sizes 1000 [--against DIR]

For each size N it writes one SQL file with a table and N trigger functions, each with its own
trigger and a pg_notify of a JSON payload (every function has a notify site, a payload and a
trigger to find). Then, each in its own process and taking turns (``benchmarks/_measure.py``):

* **parse (floor)**: pglast parses the file and every PL/pgSQL body, and nothing else;
* **inspect**: the catalog and the JSON text ``bcastsim inspect --format json`` prints, written as it is
  produced (``write_json``) to a sink that only counts it, as the command writes it to standard output;
* **check**: every review rule over the same file, as ``bcastsim check`` runs them.

Each prints the CPU of its own phase ("core CPU", without interpreter start-up and imports); the
ratio column divides by the parse floor, and "peak MiB" is the process's resident peak (each kind
imports only what its command imports). ``--against DIR`` also runs inspect and check on another
checkout's ``DIR/src``, in the same turns (so the machine's load falls on both alike); this
checkout's candidates run on its own ``src/``. The figures
of merit: check and inspect CPU for 10,000 functions, their ratio to the parse, and the growth from the
smallest to the largest size, which stays close to the ratio of the sizes when the work is linear.

``--instructions`` counts, under valgrind, the instructions of each phase instead (one run each:
the count does not move with the machine's load), the same ratios beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import Candidate, interleave, print_table, python_candidate

SRC = Path(__file__).resolve().parents[1] / "src"

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


# ``--varied``: four shapes in turn, each notify call and payload with its own text (only RETURN
# NEW and the like repeat, as in any project): the branches on TG_OP, a declared payload variable
# sent over realtime.send, a guarded block with an exception handler, a CASE on what changed.
# Every one has a notify site.
_VARIED = (
    _FUNCTION,
    """
CREATE OR REPLACE FUNCTION notify_item_{i}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  payload_{i} jsonb;
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('item_gone_{i}', OLD.id::text);
    RETURN OLD;
  END IF;
  payload_{i} := jsonb_build_object('id', NEW.id, 'amount_{i}', NEW.amount, 'op', TG_OP);
  PERFORM realtime.send(payload_{i}, 'item_{i}_changed', 'items:' || NEW.id::text, false);
  RETURN NEW;
END;
$$;
CREATE TRIGGER item_{i}_trigger AFTER INSERT OR UPDATE OR DELETE ON items
  FOR EACH ROW EXECUTE FUNCTION notify_item_{i}();
""",
    """
CREATE OR REPLACE FUNCTION notify_item_{i}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    PERFORM pg_notify('audit_{i}', row_to_json(NEW)::text);
  EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'notify {i} failed: %', SQLERRM;
  END;
  RETURN NEW;
END;
$$;
CREATE TRIGGER item_{i}_trigger AFTER INSERT ON items FOR EACH ROW EXECUTE FUNCTION notify_item_{i}();
""",
    """
CREATE OR REPLACE FUNCTION notify_item_{i}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.code IS DISTINCT FROM OLD.code THEN
    PERFORM pg_notify('code_{i}', CASE WHEN NEW.amount > {i} THEN 'big:' || NEW.code ELSE 'small:' || NEW.id END);
  END IF;
  RETURN NULL;
END;
$$;
CREATE TRIGGER item_{i}_trigger AFTER UPDATE ON items FOR EACH ROW EXECUTE FUNCTION notify_item_{i}();
""",
)


def sql_with_functions(count: int, *, varied: bool = False) -> str:
    shapes = _VARIED if varied else (_FUNCTION,)
    return _TABLE + "".join(shapes[i % len(shapes)].format(i=i) for i in range(count))


class _Sink:
    """A text stream that keeps nothing but the number of characters written to it."""

    chars = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        return len(text)


def _phase(kind: str, path: Path, *, work: bool = True) -> dict[str, object]:
    """One kind of work on one file, timed in this process (imports are done before the clock starts).

    ``work=False``: the imports and the reading of the file only, the baseline ``--instructions``
    takes from the whole process's count to leave the phase's own.
    """
    # Each kind imports what its command imports (the peak memory includes them): inspect needs
    # neither the rules nor their solver (z3).
    import pglast

    if kind != "parse":
        import bcastsim.cli  # noqa: F401 - the command line's own imports: every command's options
    if kind == "inspect":
        from bcastsim._commands.inspect import write_json
        from bcastsim._gc import collection_paused
        from bcastsim.sqlmodel import load_catalog
    elif kind == "check":
        from bcastsim.review import check

    text = path.read_text()
    start = time.process_time()
    if not work:
        return {"core_cpu_s": 0.0}
    if kind == "parse":
        bodies = 0
        for raw in pglast.parse_sql(text):
            stmt = raw.stmt
            if type(stmt).__name__ == "CreateFunctionStmt":
                body = next(o.arg for o in stmt.options if o.defname == "as")[0].sval
                pglast.parse_plpgsql(f"CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $b${body}$b$;")
                bodies += 1
        done: dict[str, object] = {"functions": bodies}
    elif kind == "inspect":
        done = _inspect(path, load_catalog, write_json, collection_paused)
    else:
        done = {"findings": len(check([path]).entries)}
    return {**done, "core_cpu_s": round(time.process_time() - start, 4)}


def _inspect(path: Path, load_catalog: Any, write_json: Any, collection_paused: Any) -> dict[str, object]:
    """What ``bcastsim inspect --format json`` does: the collector paused over loading and writing."""
    with collection_paused():
        # The catalog is dropped before the pause ends, as the command drops it.
        return _load_and_write(path, load_catalog, write_json)


def _load_and_write(path: Path, load_catalog: Any, write_json: Any) -> dict[str, object]:
    sink = _Sink()
    catalog = load_catalog([path])
    write_json(catalog, sink)
    return {"functions": len(catalog.functions), "json_chars": sink.chars}


def _candidate(label: str, kind: str, path: Path, src: Path, floor: str) -> Candidate:
    """One kind of work on ``path``, run on the bcastsim in ``src`` (this checkout's, or --against's)."""
    return replace(
        python_candidate(label, Path(__file__).name, "--phase", kind, str(path), floor=floor),
        env={"PYTHONPATH": str(src)},
    )


_I_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def _instructions(kind: str, path: Path, src: Path, *, work: bool) -> int:
    """The instructions one process executes, counted by valgrind's cachegrind (no cache simulation)."""
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        str(Path(__file__).resolve()),
        "--phase" if work else "--setup",
        kind,
        str(path),
    ]
    # A fixed hash seed: set and dict iteration orders, and with them the count, are the same every run.
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    found = _I_REFS.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"valgrind failed on {kind}: {done.stderr.strip().splitlines()[-1:]}")
    return int(found.group(1).replace(",", ""))


def _count_instructions(sizes: list[int], *, varied: bool, against: Path | None) -> int:
    """Each kind's instructions in its phase alone: its whole process less the same process without the work.

    Unlike CPU seconds, the count does not move with the machine's load: a change of a few per
    cent shows in one run. It is not time (a cache miss costs more than an add), so the CPU
    figures stay the result; the count says which way a change moves the work, and by how much.
    """
    if shutil.which("valgrind") is None:
        print("bench_check_scale.py: --instructions needs valgrind (apt-get install valgrind)", file=sys.stderr)
        return 2
    trees = [("", SRC)] + ([(" against", against.resolve() / "src")] if against is not None else [])
    with tempfile.TemporaryDirectory(prefix="bcastsim-bench-") as work:
        for size in sizes:
            path = Path(work) / f"functions_{size}.sql"
            path.write_text(sql_with_functions(size, varied=varied))
            print(f"\n{size:,} functions" + (", four shapes in turn" if varied else "") + ": instructions (millions)")
            floor = 0
            for label, src in [("parse", SRC)] + [
                (f"{kind}{suffix}", src) for suffix, src in trees for kind in ("inspect", "check")
            ]:
                kind = label.split()[0]
                count = _instructions(kind, path, src, work=True) - _instructions(kind, path, src, work=False)
                floor = floor or count
                ratio = "" if label == "parse" else f"{count / floor:.2f}x parse"
                print(f"   {label:<16} {count / 1e6:>10,.0f}   {ratio}", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated function counts")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--varied", action="store_true", help="four function shapes in turn, each notify text its own")
    parser.add_argument("--against", type=Path, help="another checkout whose src/ to run inspect and check on too")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count each phase's instructions under valgrind (one run each: the count does not vary with load)",
    )
    parser.add_argument("--phase", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--setup", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase or args.setup:
        kind, file = args.phase or args.setup
        print(json.dumps(_phase(kind, Path(file), work=bool(args.phase))))
        return 0
    sizes = [int(x) for x in args.sizes.split(",")]
    if args.instructions:
        return _count_instructions(sizes, varied=args.varied, against=args.against)
    core: dict[tuple[int, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="bcastsim-bench-") as work:
        for size in sizes:
            path = Path(work) / f"functions_{size}.sql"
            path.write_text(sql_with_functions(size, varied=args.varied))
            print(f"\n{size:,} functions" + (", four shapes in turn" if args.varied else ""))
            candidates = [
                _candidate(kind, kind, path, SRC, floor="" if kind == "parse" else "parse")
                for kind in ("parse", "inspect", "check")
            ]
            if args.against:
                against = args.against.resolve() / "src"
                candidates += [
                    _candidate(f"{kind} against", kind, path, against, "parse") for kind in ("inspect", "check")
                ]
            summaries = interleave(candidates, runs=args.runs)
            print_table(summaries)
            for summary in summaries:
                core[(size, summary.candidate.label)] = summary.core() or 0.0
    low, high = min(sizes), max(sizes)
    if low != high:
        for kind in ("inspect", "check"):
            growth = core[(high, kind)] / max(core[(low, kind)], 1e-9)
            print(f"{kind} CPU grew {growth:.1f}x for {high / low:.0f}x the functions (linear: ~{high / low:.0f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
