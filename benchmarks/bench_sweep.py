"""Wall time of a sweep: ``bcastsim simulate artbattle --sweep clients=500..10000:8 --plot DIR --jobs 2``.

Run:  .venv/bin/python benchmarks/bench_sweep.py              (about half a minute on 2 idle cores)
      .venv/bin/python benchmarks/bench_sweep.py --jobs 1     (the same sweep serially, for the speed-up)

Each of the 8 cells is the three-hour Art Battle event with its six runs (three architectures on the
Team plan and on unlimited). The command is run as a user runs it, in a child process, and its files
are checked: 6 PNGs, sweep.csv and sweep.json with 8 cells.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--spec", default="clients=500..10000:8", help="the --sweep spec")
    args = parser.parse_args()
    print(f"python {platform.python_version()} · {platform.machine()} · {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as directory:
        command = [str(Path(sys.executable).with_name("bcastsim")), "simulate", "artbattle", "--sweep", args.spec,
                   "--plot", directory, "--jobs", str(args.jobs)]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        files = sorted(p.name for p in Path(directory).iterdir())
        cells = json.loads((Path(directory) / "sweep.json").read_text(encoding="utf-8"))["cells"]
    pngs = [name for name in files if name.endswith(".png")]
    print(f"bcastsim simulate artbattle --sweep {args.spec} --plot DIR --jobs {args.jobs}")
    data = ", ".join(sorted(set(files) - set(pngs)))
    print(f"   {elapsed:6.1f} s wall · {len(cells)} cells · {len(pngs)} PNGs · {data}")
    return 0 if pngs and cells else 1


if __name__ == "__main__":
    sys.exit(main())
