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
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _fuzz_support import (
    FILE_NAME,
    NASTY_NUMBERS,
    ROOT,
    TINY,
    Outcome,
    changed,
    encoded_text,
    fuzz_examples,
    mutated_lines,
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
