"""How well ``bcastsim inspect`` and ``bcastsim check`` read SQL nobody on the project wrote.

Run with::

    .venv/bin/python benchmarks/bench_realworld.py [--corpus DIR] [--only SUBSTRING] [--json OUT]

It reads ``tests/fixtures/realworld/corpus.toml`` and, for every file listed there, runs the installed CLI
(``python -m bcastsim.cli``) in a subprocess, each file on its own (``--per-project``: each project's files
together, in manifest order, so that tables defined in one file inform triggers in the next) and without
``--transport``, so that the transport the tool assumes is its own:

* ``inspect --format json``: exit status, whether the file was refused (exit 2) or crashed (a traceback),
  and which of the expected notify sites (``runs = true``) it reports at the expected line (recall), plus the
  sites it reports that the manifest does not list (extra) or lists as never run (``runs = false``);
* ``check --format json``: the number of error and warning findings, by rule, and how many of them the
  manifest's ``verdicts`` judge a true problem (precision), judge not a problem, or do not judge at all;
* with ``--patches``, every printed patch (of any severity) is applied by ``patch(1)`` to a copy of its
  file and the copy checked again: whether the patch applies, whether its finding is gone, and whether a
  warning or error appears that was not there before.

The corpus files are read from ``--corpus``, else ``$BCASTSIM_REALWORLD``, else the directory of the manifest
when the copies sit beside it, else ``../shared/realworld`` beside the checkout.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "tests" / "fixtures" / "realworld" / "corpus.toml"
sys.path.insert(0, str(ROOT / "tests"))
from _corpus import CORPUS_MISSING  # noqa: E402
from _corpus import corpus_root as shared_corpus_root  # noqa: E402
from bcastsim.review._danger import PRIVILEGE_RULE_IDS  # noqa: E402
from test_realworld_further import further_root  # noqa: E402


def corpus_root(explicit: str | None, files: Sequence[dict[str, Any]]) -> Path:
    """Where the copies live: ``--corpus``, else the lookup the tests use (tests/_corpus.py)."""
    if explicit and files and (Path(explicit) / files[0]["local_path"]).is_file():
        return Path(explicit)
    found = shared_corpus_root()
    if found is None:
        sys.exit(f"bench_realworld: {CORPUS_MISSING}; pass --corpus DIR or set BCASTSIM_REALWORLD")
    return found


def run_cli(*args: str) -> tuple[int, dict[str, Any] | None, str]:
    """Exit status, parsed JSON document (None when stdout is not JSON) and stderr of one CLI run."""
    proc = subprocess.run([sys.executable, "-m", "bcastsim.cli", *args], capture_output=True, text=True, check=False)
    try:
        document = json.loads(proc.stdout) if proc.stdout.strip() else None
    except json.JSONDecodeError:
        document = None
    return proc.returncode, document, proc.stderr


def _on(item: dict[str, Any], path: Path) -> bool:
    """Whether a reported site or finding is placed in ``path``."""
    return bool(item.get("path")) and Path(item["path"]).resolve() == path.resolve()


def _loud(findings: Sequence[dict[str, Any]], path: str) -> set[tuple[str, str, str]]:
    return {
        (f["rule"], f.get("function") or "", f["message"].replace(path, "FILE"))
        for f in findings
        if f.get("severity") in ("error", "warning")
    }


def try_patches(paths: Sequence[str], report: dict[str, Any] | None) -> dict[str, int]:
    """Apply each printed patch to a copy of the group and check the copy again."""
    counts = Counter(patched=0, applied=0, gone=0, new_loud=0)
    for finding in (report or {}).get("findings", []):
        if not finding.get("patch") or finding.get("path") not in paths:
            continue
        counts["patched"] += 1
        with tempfile.TemporaryDirectory() as scratch:
            copies = [str(Path(scratch) / f"{index}_{Path(path).name}") for index, path in enumerate(paths)]
            for path, copy in zip(paths, copies, strict=True):
                shutil.copy(path, copy)
            target = copies[paths.index(finding["path"])]
            applied = subprocess.run(
                ["patch", "--quiet", target], input=finding["patch"], text=True, capture_output=True, check=False
            )
            if applied.returncode:
                continue
            counts["applied"] += 1
            _, after, _ = run_cli("check", "--format", "json", *copies)
            found = (after or {}).get("findings", [])
            message = finding["message"].replace(finding["path"], target)
            if not any(
                f["rule"] == finding["rule"]
                and f.get("function") == finding.get("function")
                and f["message"] == message
                for f in found
            ):
                counts["gone"] += 1
            before = _loud([f for f in report["findings"] if f.get("path") == finding["path"]], finding["path"])
            if _loud([f for f in found if f.get("path") == target], target) - before:
                counts["new_loud"] += 1
    return dict(counts)


def measure(group: Sequence[tuple[Path, dict[str, Any]]], patches: bool = False) -> list[dict[str, Any]]:
    """Inspect and check the files of ``group`` in one run; compare each file's sites and findings with the manifest."""
    paths = [str(path) for path, _ in group]
    status, document, stderr = run_cli("inspect", "--format", "json", *paths)
    check_status, report, check_stderr = run_cli("check", "--format", "json", *paths)
    tried = try_patches(paths, report) if patches else {}
    rows = []
    for path, entry in group:
        expected = {site["line"] for site in entry.get("expected_sites", []) if site["runs"]}
        never_run = {site["line"] for site in entry.get("expected_sites", []) if not site["runs"]}
        found = {int(site["line"]) for site in (document or {}).get("notify_sites", []) if _on(site, path)}
        findings = [
            f for f in (report or {}).get("findings", []) if f.get("severity") in ("error", "warning") and _on(f, path)
        ]
        judged = {(v["rule"], v["line"]): v["true_problem"] for v in entry.get("verdicts", [])}
        # The privilege rules say what a statement needs; judged apart from the defect rules' precision.
        verdicts = [judged.get((f["rule"], f["line"])) for f in findings if f["rule"] not in PRIVILEGE_RULE_IDS]
        privileged = [judged.get((f["rule"], f["line"])) for f in findings if f["rule"] in PRIVILEGE_RULE_IDS]
        rows.append(
            {
                "file": entry["local_path"],
                "transport": entry["transport"],
                "inspect_status": status,
                "refused": status == 2,
                "valid_refused": status == 2 and entry.get("valid_sql", True),
                "traceback": "Traceback" in stderr or "Traceback" in check_stderr,
                "error": stderr.strip().splitlines()[-1] if status == 2 and stderr.strip() else "",
                "expected": len(expected),
                "matched": len(expected & found),
                "extra": len(found - expected - never_run),
                "never_run_reported": len(found & never_run),
                "check_status": check_status,
                "findings": len(findings),
                "true": verdicts.count(True),
                "false": verdicts.count(False),
                "unjudged": verdicts.count(None) + privileged.count(None),
                "privilege": len(privileged),
                "privilege_problems": privileged.count(True),
                "by_rule": dict(Counter(f"{f['rule']}:{f['severity']}" for f in findings)),
                "patches": tried if path == group[0][0] else {},
            }
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="directory holding the corpus copies")
    parser.add_argument("--only", help="measure only files whose local_path contains this text")
    parser.add_argument("--json", help="also write the per-file rows to this JSON file")
    parser.add_argument(
        "--per-project",
        action="store_true",
        help="run each project's files together, in manifest order, instead of one file at a time",
    )
    parser.add_argument(
        "--patches", action="store_true", help="also apply every printed patch to a copy and check it again"
    )
    parser.add_argument(
        "--further",
        action="store_true",
        help="measure the manifest's further files (projects not in the corpus) instead",
    )
    options = parser.parse_args(argv)
    files: list[dict[str, Any]] = tomllib.loads(MANIFEST.read_text())["further_file" if options.further else "file"]
    if options.further:
        found = further_root()
        if found is None:
            sys.exit("bench_realworld: further copies not found; set BCASTSIM_REALWORLD_FURTHER")
        root = found
    else:
        root = corpus_root(options.corpus, files)
    chosen = [
        (root / entry["local_path"], entry)
        for entry in files
        if not options.only or options.only in entry["local_path"]
    ]
    groups: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    for path, entry in chosen:
        groups.setdefault(entry["project"] if options.per_project else entry["local_path"], []).append((path, entry))
    rows = [row for group in groups.values() for row in measure(group, options.patches)]
    print(f"{'inspect':>7} {'sites':>7} {'extra':>5} {'check':>5} {'err+warn':>8}  file")
    for row in rows:
        print(
            f"{row['inspect_status']:>7} {row['matched']:>3}/{row['expected']:<3} {row['extra']:>5} "
            f"{row['check_status']:>5} {row['findings']:>8}  {row['file']}"
        )
        if row["error"]:
            print(f"{'':>37}{row['error']}")
    expected = sum(row["expected"] for row in rows)
    matched = sum(row["matched"] for row in rows)
    rules: Counter[str] = Counter()
    for row in rows:
        rules.update(row["by_rule"])
    print()
    print(
        f"files: {len(rows)}; refused: {sum(row['refused'] for row in rows)} "
        f"(valid SQL: {sum(row['valid_refused'] for row in rows)}); "
        f"tracebacks: {sum(row['traceback'] for row in rows)}"
    )
    print(
        f"site recall: {matched}/{expected} = {matched / expected if expected else 1.0:.3f}; "
        f"extra sites: {sum(row['extra'] for row in rows)}; "
        f"never-run sites reported as sites: {sum(row['never_run_reported'] for row in rows)}"
    )
    true, false = sum(row["true"] for row in rows), sum(row["false"] for row in rows)
    print(
        f"error+warning findings: {sum(row['findings'] for row in rows)}; judged true: {true}, "
        f"false: {false}, unjudged: {sum(row['unjudged'] for row in rows)}; "
        f"precision: {true / (true + false) if true + false else 1.0:.3f} (defect rules); "
        f"privilege findings: {sum(row['privilege'] for row in rows)}, judged a problem where they are: "
        f"{sum(row['privilege_problems'] for row in rows)}"
    )
    for rule, count in sorted(rules.items()):
        print(f"  {rule}: {count}")
    if options.patches:
        tried: Counter[str] = Counter()
        for row in rows:
            tried.update(row["patches"])
        print(
            f"patches printed: {tried['patched']}; applied by patch(1): {tried['applied']}; "
            f"finding gone after: {tried['gone']}; a new warning or error after: {tried['new_loud']}"
        )
    if options.json:
        Path(options.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
