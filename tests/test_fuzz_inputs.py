"""Hostile input: generated files, encodings, names, flags and numbers, and a fixed list of nasty paths.

Every run goes through the real CLI in a forked child with a memory and a time limit, and must
exit 0, 1 or 2, print one line on error and no traceback, and change no file but the output it
was asked to write. CI runs a few examples per test, derandomized; ``BCASTSIM_FUZZ_EXAMPLES=400``
runs more by hand.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bcastsim
from _fuzz_support import (
    BOUND_SCALE,
    FILE_NAME,
    NASTY_NUMBERS,
    ROOT,
    TINY,
    HostileSql,
    Outcome,
    changed,
    encoded_text,
    fuzz_examples,
    hostile_sql,
    mutated_lines,
    non_table_config,
    null_expressions,
    oversized_sql,
    run_bounded,
    snapshot,
    toml_value,
)
from bcastsim._errors import InputError
from bcastsim.sim import Scenario, load_scenario
from bcastsim.sim._scenario import _NAMED, _SECTIONS, FaultConfig

SEED_TRIGGERS = ROOT / "sql" / "broadcast_triggers.sql"


def _fresh_sandbox() -> Path:
    """A directory with the seed SQL and a small scenario; readable by any user (see the unreadable test)."""
    root = Path(tempfile.mkdtemp(prefix="bcastsim-fuzz-"))
    root.chmod(0o755)
    shutil.copytree(ROOT / "sql", root / "sql", ignore=shutil.ignore_patterns("variants"))
    shutil.copy(TINY, root / "tiny.toml")
    (root / "out").mkdir()
    return root


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Path]:
    root = _fresh_sandbox()
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _assert_sound(
    outcome: Outcome, *, before: dict[str, tuple[int, int, int]], root: Path, may_write: tuple[str, ...] = ()
) -> None:
    problems = outcome.problems()
    touched = {
        path
        for path in changed(before, snapshot(root))
        if not any(path == allowed or path.startswith(allowed + "/") for allowed in may_write)
    }
    if touched:
        problems.append(f"changed files it was not asked to write: {sorted(touched)[:5]}")
    assert not problems, f"bcastsim {' '.join(outcome.argv)!r}: {problems}; stderr: {outcome.err[-800:]!r}"


def _run(root: Path, argv: list[str], may_write: tuple[str, ...] = ()) -> Outcome:
    before = snapshot(root)
    outcome = run_bounded(argv, root)
    _assert_sound(outcome, may_write=may_write, before=before, root=root)
    return outcome


def _strict_json(text: str) -> object:
    def refuse(constant: str) -> object:
        raise AssertionError(f"JSON output holds {constant}")

    return json.loads(text, parse_constant=refuse)


# -- every scenario key times every nasty number ----------------------------------------------------


def _numeric_keys() -> list[tuple[str, str]]:
    keys = []
    for section, cls in _SECTIONS.items():
        for field in attrs.fields(cls):
            if isinstance(field.default, int | float) and not isinstance(field.default, bool):
                keys.append((section, field.name))
    # One entry of each named table the tiny scenario has.
    entries = {"entities": "artwork", "writes": "bids", "populations": "audience"}
    for named, cls in _NAMED.items():
        for field in attrs.fields(cls):
            if isinstance(field.default, int | float) and not isinstance(field.default, bool):
                keys.append((f"{named}.{entries[named]}", field.name))
    keys += [("faults", field.name) for field in attrs.fields(FaultConfig) if field.name != "kind"]
    keys += [("reactions", kind) for kind in ("bid_update", "media_update")]
    return keys


NUMERIC_KEYS = _numeric_keys()


def _scenario_text(section: str, key: str, value: object) -> str:
    """The small scenario with one key set to ``value`` (a fault of its own for fault keys)."""
    head = f"extends = {json.dumps(str(TINY))}\n"
    if section == "faults":
        return head + f"[[faults]]\nkind = 'disconnect'\n{key} = {toml_value(value)}\n"
    return head + f"[{section}]\n{key} = {toml_value(value)}\n"


def _load_or_error(path: Path) -> Scenario | InputError:
    try:
        return load_scenario(path)
    except InputError as error:
        return error


@pytest.mark.parametrize(("section", "key"), NUMERIC_KEYS, ids=[f"{s}.{k}" for s, k in NUMERIC_KEYS])
def test_every_scenario_key_with_every_nasty_number(tmp_path: Path, section: str, key: str) -> None:
    """Each numeric key set to 0, -1, NaN, ±inf or huge either loads finite or is refused naming the key and line."""
    path = tmp_path / "scenario.toml"
    for value in NASTY_NUMBERS:
        path.write_text(_scenario_text(section, key, value))
        loaded = _load_or_error(path)
        if isinstance(loaded, InputError):
            text = loaded.one_line()
            assert f"{section}.{key}" in text or "events per run" in text, text
            assert "\n" not in text
            assert loaded.path == str(path)
            continue
        if section == "faults":
            numbers = [getattr(fault, key) for fault in loaded.faults]
        elif section == "reactions":
            numbers = [loaded.reactions[key]]
        elif "." in section:
            named, entry = section.split(".")
            numbers = [getattr(getattr(loaded, named)[entry], key)]
        else:
            numbers = [getattr(getattr(loaded, section), key)]
        assert all(math.isfinite(number) for number in numbers), (key, value, numbers)


@settings(max_examples=fuzz_examples(12))
@given(key=st.sampled_from(NUMERIC_KEYS), value=st.sampled_from(NASTY_NUMBERS), fmt=st.sampled_from(["text", "json"]))
def test_simulate_with_nasty_numbers(sandbox: Path, key: tuple[str, str], value: object, fmt: str) -> None:
    """`simulate` on a scenario holding a nasty number finishes within bounds with 0 or 2, and JSON has no NaN."""
    name = f"nasty_{key[0]}_{key[1]}.toml"
    (sandbox / name).write_text(_scenario_text(*key, value))
    try:
        outcome = _run(sandbox, ["simulate", name, "--format", fmt])
    finally:
        (sandbox / name).unlink()
    assert outcome.status in (0, 2)
    if outcome.status == 0 and fmt == "json":
        _strict_json(outcome.out)


# -- file contents and encodings ------------------------------------------------------------------------


@settings(max_examples=fuzz_examples(12))
@given(data=encoded_text(mutated_lines(TINY.read_text())))
def test_scenario_file_contents(sandbox: Path, data: bytes) -> None:
    """A scenario file mangled line by line and in any encoding is run or refused in one line."""
    (sandbox / "mangled.toml").write_bytes(data)
    try:
        _run(sandbox, ["simulate", "mangled.toml", "--format", "json"])
    finally:
        (sandbox / "mangled.toml").unlink()


@settings(max_examples=fuzz_examples(12))
@given(
    data=st.one_of(encoded_text(mutated_lines(SEED_TRIGGERS.read_text())), st.binary(max_size=400)),
    command=st.sampled_from(["check", "inspect"]),
)
def test_sql_file_contents(sandbox: Path, data: bytes, command: str) -> None:
    """Trigger SQL mangled line by line, in any encoding or as random bytes, is checked or refused in one line."""
    target = sandbox / "sql" / "zz_mangled.sql"
    target.write_bytes(data)
    try:
        _run(sandbox, [command, "sql"])
    finally:
        target.unlink()


@settings(max_examples=fuzz_examples(8))
@given(data=encoded_text(mutated_lines((ROOT / "pyproject.toml").read_text()[:1500] + "\n[tool.bcastsim]\n")))
def test_config_file_contents(sandbox: Path, data: bytes) -> None:
    """A mangled pyproject.toml given with --config is used or refused in one line."""
    (sandbox / "pyproject.toml").write_bytes(data)
    try:
        _run(sandbox, ["check", "sql", "--config", "pyproject.toml"])
    finally:
        (sandbox / "pyproject.toml").unlink()


# -- names and flags --------------------------------------------------------------------------------------


@settings(max_examples=fuzz_examples(12))
@given(name=FILE_NAME)
def test_file_names(sandbox: Path, name: str) -> None:
    """Any file name works as an input and as an output, and only the named output is written."""
    work = sandbox / "names"
    work.mkdir()
    try:
        try:
            (work / name).write_text(SEED_TRIGGERS.read_text())
        except OSError:
            return  # a name the file system itself refuses
        _run(sandbox, ["inspect", f"names/{name}"])
        output = f"out/{name}"
        outcome = _run(sandbox, ["check", "sql", "-o", output], may_write=(output,))
        if outcome.status in (0, 1):
            assert (sandbox / output).is_file()
    finally:
        shutil.rmtree(work)
        for leftover in (sandbox / "out").iterdir():
            leftover.unlink()


_VALUES = st.sampled_from(
    ["0", "-1", "nan", "inf", "1e400", "99999999999999999999", "", "-", "--", "x", "1-3", "5-1", "1,2", "sql",
     "tiny.toml", "out/r.txt", "out", "/dev/null", "git:HEAD:sql", "git:-o:sql", "broadcast", "free", "pro", "json",
     "sarif", "github", "text", "seed", "artbattle", "\x7f", "é", "a" * 300]
)  # fmt: skip
_OPTIONS = st.sampled_from(
    ["--format", "--output", "-o", "--schema", "--config", "--transport", "--disable", "--seed", "--clients",
     "--plan", "--profile", "--seeds", "--arch", "--out", "--reference-plan", "--client", "--list-rules", "-v",
     "--graph", "--pg", "--operations", "--runs", "--debug", "--help", "--sweep", "--plans", "--plot", "--jobs",
     "--set", "--compare-profiles"]
)  # fmt: skip


@st.composite
def _argv(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(["check", "inspect", "review", "simulate", "calibrate", "nope", ""]))
    argv = [command] if command else []
    if command in {"check", "inspect"}:
        argv.append(draw(st.sampled_from(["sql", "sql/schema.sql", "tiny.toml", "missing.sql"])))
    elif command == "review":
        argv += ["sql", draw(st.sampled_from(["sql", "git:HEAD:sql", "sql/schema.sql"]))]
    elif command == "simulate":
        argv.append("tiny.toml")
    for _ in range(draw(st.integers(0, 4))):
        option = draw(_OPTIONS)
        if command == "calibrate" and option not in {"--out", "--operations", "--runs"}:
            option = "--operations"  # calibrate with valid options starts a server: only its refusals here
        argv.append(option)
        if draw(st.booleans()):
            argv.append(draw(_VALUES))
    if command == "calibrate":
        argv += ["--operations", "0"]
    if command == "simulate":
        argv += ["--clients", "7"]
    if "--pg" in argv:
        argv.remove("--pg")  # --pg starts a server: covered by the review tests
    return argv


@settings(max_examples=fuzz_examples(25))
@given(argv=_argv())
def test_flags(argv: list[str]) -> None:
    """Any mix of commands, options and odd values exits 0, 1 or 2 and writes only where -o/--out/--plot points."""
    outputs = {"-o", "--output", "--out", "--plot"}
    may_write = tuple(argv[i + 1].rstrip("/") for i, a in enumerate(argv[:-1]) if a in outputs and argv[i + 1])
    root = _fresh_sandbox()
    try:
        _run(root, argv, may_write=may_write)
    finally:
        shutil.rmtree(root, ignore_errors=True)


# -- nasty paths ----------------------------------------------------------------------------------------

Maker = Callable[[Path], str]


def _loop(root: Path) -> str:
    (root / "loop_a.sql").symlink_to(root / "loop_b.sql")
    (root / "loop_b.sql").symlink_to(root / "loop_a.sql")
    return "loop_a.sql"


def _dangling(root: Path) -> str:
    (root / "dangling.sql").symlink_to(root / "nowhere" / "x.sql")
    return "dangling.sql"


def _fifo(root: Path) -> str:
    os.mkfifo(root / "fifo.sql")
    return "fifo.sql"


def _long_name(root: Path) -> str:
    return "n" * 300 + ".sql"


def _long_path(root: Path) -> str:
    return "/".join(["d" * 200] * 30) + "/x.sql"


def _empty_dir(root: Path) -> str:
    (root / "empty_dir").mkdir()
    return "empty_dir"


def _dir_named_sql(root: Path) -> str:
    (root / "dir_as_file.sql").mkdir()
    (root / "dir_as_file.sql" / "inner.sql").mkdir()
    return "dir_as_file.sql"


def _under_a_file(root: Path) -> str:
    return "tiny.toml/inside.sql"


def _big_file(root: Path) -> str:
    with open(root / "big.sql", "wb") as handle:
        handle.truncate(80 * 1024 * 1024)  # sparse: no disk used, 80 MiB to read
    return "big.sql"


NASTY_PATHS: dict[str, Maker] = {
    "symlink loop": _loop,
    "dangling symlink": _dangling,
    "fifo": _fifo,
    "dev null": lambda root: "/dev/null",
    "dev zero": lambda root: "/dev/zero",
    "dev urandom": lambda root: "/dev/urandom",
    "dev full": lambda root: "/dev/full",
    "name of 300 characters": _long_name,
    "path of 6000 characters": _long_path,
    "empty directory": _empty_dir,
    "directory where a file is expected": _dir_named_sql,
    "path under a file": _under_a_file,
    "80 MiB file": _big_file,
    "empty string": lambda root: "",
    "dash": lambda root: "-",
    "proc self mem": lambda root: "/proc/self/mem",
}

POSITIONS: dict[str, list[str]] = {
    "check PATH": ["check", "{}"],
    "inspect PATH": ["inspect", "{}"],
    "simulate PATH": ["simulate", "{}"],
    "review PATH sql": ["review", "{}", "sql"],
    "review sql PATH": ["review", "sql", "{}"],
    "check --schema PATH": ["check", "sql", "--schema", "{}"],
    "check --config PATH": ["check", "sql", "--config", "{}"],
    "check -o PATH": ["check", "sql", "-o", "{}"],
    "review -o PATH": ["review", "sql", "sql", "-o", "{}"],
    "simulate --out PATH": ["simulate", "tiny.toml", "--clients", "5", "--out", "{}"],
    "calibrate --out PATH": ["calibrate", "--out", "{}"],
}


_OUTPUT_POSITIONS = {"check -o PATH", "review -o PATH", "simulate --out PATH", "calibrate --out PATH"}
# Nasty for an input, but a fine output: a file named "-", a directory for simulate's reports.
_VALID_OUTPUTS = {("dash", p) for p in _OUTPUT_POSITIONS} | {
    ("empty directory", "simulate --out PATH"),
    ("directory where a file is expected", "simulate --out PATH"),
    ("80 MiB file", "check -o PATH"),
    ("80 MiB file", "review -o PATH"),
}


@pytest.mark.parametrize("position", list(POSITIONS))
@pytest.mark.parametrize("nasty", list(NASTY_PATHS))
def test_nasty_paths(nasty: str, position: str) -> None:
    """Loops, FIFOs, devices, long names, directories, big files: one line and status 2, nothing replaced."""
    if (nasty, position) in {("dash", "calibrate --out PATH"), ("80 MiB file", "calibrate --out PATH")}:
        pytest.skip("a valid --out: calibrate would start a server and measure")
    root = _fresh_sandbox()
    try:
        path = NASTY_PATHS[nasty](root)
        argv = [part.format(path) for part in POSITIONS[position]]
        devices = {p: os.stat(p).st_rdev for p in ("/dev/null", "/dev/zero", "/dev/full") if os.path.exists(p)}
        valid = (nasty, position) in _VALID_OUTPUTS
        before = snapshot(root)
        outcome = run_bounded(argv, root)
        _assert_sound(outcome, before=before, root=root, may_write=(path,) if valid else ())
        if valid:
            assert outcome.status in (0, 1), outcome
        elif nasty != "dash":
            assert outcome.status == 2, outcome
        for device, number in devices.items():
            assert os.stat(device).st_rdev == number, f"{device} was replaced"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_unreadable_file_is_one_line(sandbox: Path) -> None:
    """A file its user cannot read is one line and status 2 (as root, where every file is readable, as 'nobody')."""
    secret = sandbox / "sql" / "unreadable.sql"
    secret.write_text("SELECT 1;\n")
    secret.chmod(0)
    run_as = None
    if os.geteuid() == 0:
        import pwd

        try:
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            pytest.skip("running as root, where every file is readable, and no user 'nobody' to run as")
        run_as = (nobody.pw_uid, nobody.pw_gid)
    try:
        for argv in (["check", "sql/unreadable.sql"], ["inspect", "sql/unreadable.sql"], ["check", "sql"]):
            outcome = run_bounded(argv, sandbox, run_as=run_as)
            assert outcome.problems() == [], outcome
            assert outcome.status == 2, outcome
            assert "unreadable.sql" in outcome.err
            assert "Permission denied" in outcome.err
    finally:
        secret.unlink()


# -- deep and long TOML, symlinks leaving the repository -------------------------------------------------


@st.composite
def _deep_toml(draw: st.DrawFn) -> str:
    """A value nested past any sane depth: arrays, inline tables or dotted keys, in the scenario or alone."""
    depth = draw(st.integers(40, 3000))
    kind = draw(st.sampled_from(["array", "table", "dotted", "mixed"]))
    if kind == "array":
        value = "[" * depth + "1" + "]" * depth
    elif kind == "table":
        value = "{a = " * depth + "1" + "}" * depth
    elif kind == "mixed":
        value = "[{a = " * (depth // 2) + "1" + "}]" * (depth // 2)
    else:
        return "x" + ".y" * depth + " = 1\n" + TINY.read_text()
    return TINY.read_text() + f"\nextra = {value}\n"


@settings(max_examples=fuzz_examples(6))
@given(text=_deep_toml(), command=st.sampled_from(["scenario", "plans", "config"]))
def test_deep_toml_is_one_line(sandbox: Path, text: str, command: str) -> None:
    """TOML nested thousands deep (scenario, plans, pyproject.toml) is refused in one line, never a RecursionError."""
    (sandbox / "deep.toml").write_text(text)
    argv = {
        "scenario": ["simulate", "deep.toml"],
        "plans": ["simulate", "tiny.toml", "--plans", "deep.toml"],
        "config": ["check", "sql", "--config", "deep.toml"],
    }[command]
    try:
        outcome = _run(sandbox, argv)
        assert outcome.status == 2, outcome
        assert "nested" in outcome.err, outcome
    finally:
        (sandbox / "deep.toml").unlink()


@settings(max_examples=fuzz_examples(4))
@given(links=st.integers(33, 1500), reverse=st.booleans())
def test_long_extends_chains_are_one_line(sandbox: Path, links: int, reverse: bool) -> None:
    """A plans file whose extends chain is hundreds long is refused in one line, fast, in either order."""
    order = range(links, 0, -1) if reverse else range(1, links + 1)
    plans = '[p0]\nextends = "pro"\n' + "".join(f'[p{i}]\nextends = "p{i - 1}"\n' for i in order)
    (sandbox / "chain.toml").write_text(plans)
    try:
        outcome = _run(sandbox, ["simulate", "tiny.toml", "--plans", "chain.toml"])
        assert outcome.status in (0, 1, 2), outcome
        if reverse:
            assert outcome.status == 2, outcome
            assert "chain" in outcome.err, outcome
    finally:
        (sandbox / "chain.toml").unlink()


@settings(max_examples=fuzz_examples(6))
@given(
    target=st.sampled_from(["/etc/passwd", "/etc/hostname", "/proc/self/environ", "../outside.sql"]),
    where=st.sampled_from(["sql/zz_link.sql", "linked/x.sql"]),
    command=st.sampled_from(["check", "inspect"]),
)
def test_symlinks_leaving_the_repository_are_refused(sandbox: Path, target: str, where: str, command: str) -> None:
    """A link under the checkout pointing outside it is refused in one line that prints nothing of the target."""
    (sandbox / ".git").mkdir(exist_ok=True)
    outside = sandbox.parent / "outside.sql"
    outside.write_text("SELECT 'outside-secret';\n")
    link = sandbox / where
    link.parent.mkdir(exist_ok=True)
    link.symlink_to(outside if target == "../outside.sql" else Path(target))
    try:
        outcome = _run(sandbox, [command, where if command == "inspect" else str(Path(where).parent)])
        assert outcome.status == 2, outcome
        assert "symbolic link" in outcome.err, outcome
        assert "secret" not in outcome.err
        assert "root:" not in outcome.err
    finally:
        link.unlink()
        outside.unlink()
        if where.startswith("linked/"):
            link.parent.rmdir()


# -- untrusted managers -----------------------------------------------------------------------------------

_GOOD_MANAGER = ROOT / "tests" / "fixtures" / "client" / "good_manager.mjs"
_MANAGER_PLACES = {
    "import": "export function createManager",
    "subscribe": "subscribe(topic, event, callback, { private: isPrivate = false } = {}) {",
    "callback": "if (options.resync) options.resync(entry.topic);",
}
_MANAGER_ACTIONS = {
    "write": "fs.writeFileSync({mark!r}, 'x');",
    "append": "fs.appendFileSync({mark!r}, 'x');",
    "spawn": "cp.spawn('sh', ['-c', 'touch {mark}'], {{ detached: true }}).unref();",
    "exec": "cp.execSync('touch {mark}');",
    "net": "net.connect(9, '127.0.0.1').on('error', () => {{}});",
    "fetch": "fetch('http://127.0.0.1:9/').catch(() => {{}});",
    "kill": "process.kill(process.ppid, 'SIGTERM');",
    "read": "fs.readFileSync('/etc/hostname', 'utf8');",
    "loop": "for (;;) {{}}",
    "exit": "process.exit(3);",
    "throw": "throw new Error('boom');",
    "flood": "for (let i = 0; i < 20000; i++) console.log('flood', i);",
    "stdout": "process.stdout.write('{{\"schedules\": []}}');",
}


# Every action once, its place rotating through the three (check --client runs Hypothesis itself, so the
# cases are generated from these tables rather than drawn by @given); BCASTSIM_FUZZ_EXAMPLES>=39 runs all pairs.
_PLACES = sorted(_MANAGER_PLACES)
_HOSTILE_CASES = (
    [(place, action) for place in _PLACES for action in sorted(_MANAGER_ACTIONS)]
    if fuzz_examples(0) >= len(_PLACES) * len(_MANAGER_ACTIONS)
    else [(_PLACES[k % len(_PLACES)], action) for k, action in enumerate(sorted(_MANAGER_ACTIONS))]
)


def _node_ready() -> str | None:
    from bcastsim.client._node import realtime_js_missing

    return realtime_js_missing()


@pytest.mark.node
@pytest.mark.skipif(_node_ready() is not None, reason=str(_node_ready()))
@pytest.mark.parametrize(("place", "action"), _HOSTILE_CASES)
def test_hostile_managers_are_contained(sandbox: Path, place: str, action: str) -> None:
    """A manager that writes, spawns, connects, signals, loops, exits or floods: nothing escapes, one line or a run."""
    mark = sandbox.parent / f"{sandbox.name}-escaped"
    text = _GOOD_MANAGER.read_text()
    anchor = _MANAGER_PLACES[place]
    statement = _MANAGER_ACTIONS[action].format(mark=str(mark))
    if place == "import":
        text = text.replace(anchor, f"{statement}\n{anchor}")
    else:
        text = text.replace(anchor, f"{anchor}\n{statement}")
    imports = (
        "import * as fs from 'node:fs';\nimport * as cp from 'node:child_process';\nimport * as net from 'node:net';\n"
    )
    folder = sandbox / "managers"
    folder.mkdir(exist_ok=True)
    (folder / "hostile.mjs").write_text(imports + text)
    try:
        outcome = _run(sandbox, ["check", "--client", "managers/hostile.mjs", "--client-schedules", "8",
                                 "--client-budget", "8"])  # fmt: skip
        assert not mark.exists(), f"{place}/{action}: the manager wrote {mark}"
        if action in ("loop", "exit") or (place == "import" and action not in ("throw", "flood", "stdout")):
            assert outcome.status == 2, outcome
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        mark.unlink(missing_ok=True)


@pytest.mark.parametrize("kind", ["link outside", "link inside", "large blob"])
@pytest.mark.parametrize("command", ["check", "review"])
def test_revisions_with_links_or_large_blobs_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, command: str
) -> None:
    """A committed symlink (anywhere) or a blob over the input limit under git:REV:PATH is one line, exit 2."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    (repo / "sql").mkdir(parents=True)
    (repo / "sql" / "a.sql").write_text("SELECT 1;\n")
    if kind == "link outside":
        (repo / "sql" / "b.sql").symlink_to("/etc/passwd")
    elif kind == "link inside":
        (repo / "sql" / "b.sql").symlink_to("a.sql")
    else:
        (repo / "sql" / "b.sql").write_bytes(b"-- " + b"x" * 200_000 + b"\n")
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=repo, check=True)
    argv = ["check", "git:HEAD:sql"] if command == "check" else ["review", "none:", "git:HEAD:sql"]
    monkeypatch.setenv("BCASTSIM_MAX_INPUT_BYTES", "100000")
    outcome = run_bounded(argv, repo)
    assert outcome.problems() == [], outcome
    assert outcome.status == 2, outcome
    assert "git:HEAD:sql/b.sql" in outcome.err
    assert "root:" not in outcome.err


# -- statements that need a superuser, SQL over its bounds ------------------------------------------------


@settings(max_examples=fuzz_examples(12))
@given(hostile=hostile_sql())
def test_statements_that_need_a_superuser_are_errors_wherever_they_sit(sandbox: Path, hostile: HostileSql) -> None:
    """COPY … PROGRAM, pg_read_file, ALTER SYSTEM … at any place, suppressed or caught: an error naming its rule."""
    (sandbox / "hostile.sql").write_text(hostile.text)
    try:
        outcome = _run(sandbox, ["check", "hostile.sql", "--format", "json"])
    finally:
        (sandbox / "hostile.sql").unlink()
    assert outcome.status == 1, outcome
    document = _strict_json(outcome.out)
    assert isinstance(document, dict)
    found = [f for f in document["findings"] if f["rule"] == hostile.kind]
    assert found, (hostile.text, document["findings"])
    assert all(f["severity"] == "error" for f in found)
    assert any("swallowed by the EXCEPTION" in f["message"] for f in found) is hostile.swallowed, hostile.text


@settings(max_examples=fuzz_examples(10))
@given(case=oversized_sql(), command=st.sampled_from(["check", "inspect", "review"]))
def test_sql_over_a_bound_is_one_line(sandbox: Path, case: tuple[str, str], command: str) -> None:
    """A file over a bound (bytes, a line, statements, one function) is exit 2, one line naming it, nothing written."""
    text, words = case
    (sandbox / "big.sql").write_text(text)
    argv = {
        "check": ["check", "big.sql", "-o", "out/report.txt"],
        "inspect": ["inspect", "big.sql", "--format", "json"],
        "review": ["review", "none:", "big.sql", "-o", "out/report.txt"],
    }[command]
    # The bounds scaled down (the forked run inherits the environment), so that a small file is over them.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BCASTSIM_LIMIT_SCALE", BOUND_SCALE)
        try:
            outcome = _run(sandbox, argv)
        finally:
            (sandbox / "big.sql").unlink()
    assert outcome.status == 2, outcome
    assert "big.sql" in outcome.err
    assert words in outcome.err, outcome.err
    assert "over the bound of" in outcome.err
    assert "sql-limits" in outcome.err
    assert not (sandbox / "out" / "report.txt").exists()


# -- the fuzz driver's classes: a tool that is not a table, --arch of nothing, scenario arrays, NULLs ---------


@settings(max_examples=fuzz_examples(8))
@given(text=non_table_config(), how=st.sampled_from(["--config", "found"]))
def test_a_tool_table_that_is_not_a_table_is_one_line(sandbox: Path, text: str, how: str) -> None:
    """`tool = 5`, `bcastsim = "x"`, `sql-limits = []` in pyproject.toml: exit 2, one line, never AttributeError."""
    project = sandbox / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(text)
    shutil.copy(SEED_TRIGGERS, project / "t.sql")
    argv = ["check", "project/t.sql", "-o", "out/report.txt"]
    if how == "--config":
        argv += ["--config", "project/pyproject.toml"]
    try:
        outcome = _run(sandbox, argv, may_write=("out/report.txt",))
    finally:
        shutil.rmtree(project)
        (sandbox / "out" / "report.txt").unlink(missing_ok=True)
    # Found by the search, a pyproject.toml without a [tool.bcastsim] table is someone else's: used or refused.
    assert outcome.status in ((2,) if how == "--config" or "[tool.bcastsim" in text else (0, 1, 2)), outcome


@settings(max_examples=fuzz_examples(8))
@given(arch=st.text(alphabet=", \t", min_size=0, max_size=6), sweep=st.booleans())
def test_arch_naming_no_architecture_is_one_line(sandbox: Path, arch: str, sweep: bool) -> None:
    """`--arch ,` (commas, blanks, nothing) is exit 2 in one line saying it names no architecture."""
    argv = ["simulate", "tiny.toml", "--arch", arch] + (["--sweep", "clients=10..20:2"] if sweep else [])
    outcome = _run(sandbox, argv)
    assert outcome.status == 2, outcome
    assert "names no architecture" in outcome.err, outcome.err


_ARRAY_KEYS = (("backtest", "audiences"), ("rollout", "stages"))


@settings(max_examples=fuzz_examples(10))
@given(
    key=st.sampled_from(_ARRAY_KEYS),
    items=st.one_of(
        # At least one number out of both keys' ranges, among ones in them.
        st.tuples(
            st.lists(st.integers(1, 100), max_size=3),
            st.sampled_from([-1, 101, 10**9, 2**63 - 1, -(2**63), 10**30]),
        ).map(lambda parts: [*parts[0], parts[1]]),
        st.integers(101, 5000).map(lambda n: [50] * n),
    ),
)
def test_scenario_arrays_of_numbers_are_bounded(sandbox: Path, key: tuple[str, str], items: list[int]) -> None:
    """backtest.audiences and rollout.stages: each item in the key's range, at most 100 items, else one line."""
    path = sandbox / "arrays.toml"
    path.write_text(f"extends = {json.dumps(str(TINY))}\n[{key[0]}]\n{key[1]} = [{', '.join(map(str, items))}]\n")
    loaded = _load_or_error(path)
    assert isinstance(loaded, InputError), items  # every generated array holds a number out of range, or too many
    text = loaded.one_line()
    assert f"{key[0]}.{key[1]}" in text
    assert "\n" not in text
    assert loaded.line == 3


@settings(max_examples=fuzz_examples(8))
@given(value=st.sampled_from([1e9, 10**7, 2**63, 1e308, -1]), key=st.sampled_from(["fails_at_users", "tolerance"]))
def test_backtest_numbers_are_bounded(sandbox: Path, value: object, key: str) -> None:
    """`fails_at_users = 1e9` (it built a workload for a billion users) is refused in one line, at once."""
    name = f"backtest_{key}.toml"
    (sandbox / name).write_text(f"extends = {json.dumps(str(TINY))}\n[backtest]\n{key} = {toml_value(value)}\n")
    try:
        outcome = _run(sandbox, ["simulate", name])
    finally:
        (sandbox / name).unlink()
    assert outcome.status == 2, outcome
    assert f"backtest.{key}" in outcome.err


@settings(max_examples=fuzz_examples(10))
@given(channel=null_expressions(), payload=null_expressions(), fmt=st.sampled_from(["text", "json"]))
def test_inspect_on_null_expressions(sandbox: Path, channel: str, payload: str, fmt: str) -> None:
    """pg_notify(COALESCE(NULL, NULL), NULLIF('a', 'a')) and the like in a trigger: inspected, never a TypeError."""
    (sandbox / "nulls.sql").write_text(
        "CREATE TABLE n (id int PRIMARY KEY);\n"
        "CREATE FUNCTION n_sent() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
        f"  PERFORM pg_notify({channel}, {payload});\n  RETURN NEW;\nEND $$;\n"
        "CREATE TRIGGER n_sent AFTER INSERT ON n FOR EACH ROW EXECUTE FUNCTION n_sent();\n"
    )
    try:
        outcome = _run(sandbox, ["inspect", "nulls.sql", "--format", fmt])
    finally:
        (sandbox / "nulls.sql").unlink()
    assert outcome.status in (0, 2), outcome


def _reachable_by(user: tuple[int, int], path: Path) -> bool:
    """Whether ``user`` may search every directory from / down to ``path`` (the installation it must import)."""
    uid, gid = user
    for directory in (path, *path.parents):
        mode = directory.stat()
        if mode.st_uid == uid:
            bit = 0o100
        elif mode.st_gid == gid:
            bit = 0o010
        else:
            bit = 0o001
        if not mode.st_mode & bit:
            return False
    return True


@settings(max_examples=fuzz_examples(6))
@given(
    where=st.sampled_from(["input", "deploy", "config-dir"]),
    command=st.sampled_from(["check", "inspect", "review", "simulate", "sql"]),
)
def test_a_directory_its_user_cannot_search_is_one_line(sandbox: Path, where: str, command: str) -> None:
    """A directory without read, search or write rights (an input, sqitch deploy/, an output's): exit 2, one line."""
    run_as = None
    if os.geteuid() == 0:
        import pwd

        try:
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            pytest.skip("running as root, where every directory is searchable, and no user 'nobody' to run as")
        run_as = (nobody.pw_uid, nobody.pw_gid)
        if not _reachable_by(run_as, Path(bcastsim.__file__).parent):
            pytest.skip("the checkout sits in a directory 'nobody' may not search (e.g. a 0700 mktemp -d)")
        if command == "review":
            command = "check"  # review's reaper runs this interpreter again, which 'nobody' may not reach here
    top = sandbox / "locked"
    top.mkdir()
    top.chmod(0o755)
    locked = top if where != "deploy" else top / "deploy"
    if where == "deploy":
        locked.mkdir()
        (top / "sqitch.plan").write_text("%project=x\n")
    shutil.copy(SEED_TRIGGERS, locked / "t.sql")
    locked.chmod(0o300 if where == "config-dir" and command != "sql" else 0)
    argv = {
        "check": ["check", "locked"],
        "inspect": ["inspect", "locked"],
        "review": ["review", "none:", "locked"],
        "simulate": ["simulate", "tiny.toml", "--sql", "locked"],
        "sql": ["sql", "realtime", "-o", f"{locked.relative_to(sandbox)}/realtime.sql"],
    }[command]
    try:
        outcome = run_bounded(argv, sandbox, run_as=run_as)
    finally:
        locked.chmod(0o755)
        shutil.rmtree(top)
    assert outcome.problems() == [], outcome
    assert outcome.status == 2, outcome
    assert "locked" in outcome.err
