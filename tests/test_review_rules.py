"""The review rules: safe/unsafe SQL fixtures for every rule, the seed end to end, config and suppression."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bcastsim import InputError, Severity
from bcastsim.review import RULES, ReviewConfig, all_rules, check, load_config
from bcastsim.review._analysis import ALL_OPS, decided_ops, statements
from bcastsim.review._suppress import SUPPRESSION_RULE, statement_spans
from bcastsim.sqlmodel import expression_reads, load_catalog_text
from bcastsim.sqlmodel._cfg import operations_where

ROOT = Path(__file__).resolve().parents[1]
RULE_FIXTURES = ROOT / "tests" / "fixtures" / "sql" / "review" / "rules"
FIXTURE_SCHEMA = [ROOT / "sql" / "realtime.sql", ROOT / "tests" / "fixtures" / "sql" / "review" / "schema.sql"]
SEED = ROOT / "sql" / "broadcast_triggers.sql"
RULE_IDS = [rule.id for rule in RULES] + [SUPPRESSION_RULE]


# The rule fixtures' app: the tables its hot-table and restricted-table rules look at.
FIXTURE_APP = ReviewConfig(hot_tables=("bids", "votes"), restricted_tables=("votes",))


def _config_for(text: str) -> ReviewConfig:
    match = re.search(r"-- config: transport=(\S+)", text)
    return attrs.evolve(FIXTURE_APP, transport=match.group(1)) if match else FIXTURE_APP


def _expected_lines(text: str, rule: str) -> list[int]:
    return [number for number, line in enumerate(text.splitlines(), 1) if f"-- expect: {rule}" in line]


def _check_fixture(path: Path) -> list[tuple[str, int | None]]:
    report = check([path], config=_config_for(path.read_text()), schema=FIXTURE_SCHEMA)
    return [(f.rule, f.line) for f in report.findings]


def test_every_rule_has_safe_and_unsafe_fixtures() -> None:
    """Each rule id, and the suppression check, comes with an unsafe and a safe SQL example."""
    for rule in RULE_IDS:
        assert (RULE_FIXTURES / f"{rule}.unsafe.sql").is_file(), rule
        assert (RULE_FIXTURES / f"{rule}.safe.sql").is_file(), rule


@pytest.mark.parametrize("rule", RULE_IDS)
def test_unsafe_fixture_reported_at_marked_lines(rule: str) -> None:
    """The unsafe example is reported by its rule exactly on the lines marked `-- expect: RULE`."""
    path = RULE_FIXTURES / f"{rule}.unsafe.sql"
    expected = _expected_lines(path.read_text(), rule)
    assert expected, "fixture marks no line"
    got = sorted(line for found, line in _check_fixture(path) if found == rule)
    assert got == expected


@pytest.mark.parametrize("rule", RULE_IDS)
def test_safe_fixture_not_reported(rule: str) -> None:
    """The safe counterpart draws no finding of that rule."""
    findings = _check_fixture(RULE_FIXTURES / f"{rule}.safe.sql")
    assert [f for f in findings if f[0] == rule] == []


def test_rule_registry_is_complete_data() -> None:
    """Every rule has a unique kebab-case id, a title, why it matters and how to fix it."""
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    for rule in RULES:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.id)
        assert rule.title
        assert rule.why.endswith(".")
        assert rule.fix


def _seed_statements() -> dict[int, str]:
    """PERFORM pg_notify(...) statements of the seed by first line, with their text."""
    lines = SEED.read_text().splitlines()
    found: dict[int, str] = {}
    for index, line in enumerate(lines):
        if "PERFORM pg_notify(" in line:
            end = index
            while not lines[end].strip().startswith(");"):
                end += 1
            found[index + 1] = "\n".join(lines[index : end + 1])
    return found


@pytest.fixture(scope="module")
def seed_report() -> dict[str, list[int]]:
    report = check([ROOT / "sql"], config=load_config(ROOT / "pyproject.toml", all_rules()))
    by_rule: dict[str, list[int]] = {}
    for finding in report.findings:
        assert finding.path is not None
        assert finding.line is not None
        assert finding.path.endswith("broadcast_triggers.sql")
        by_rule.setdefault(finding.rule, []).append(finding.line)
    return by_rule


def test_seed_pg_notify_never_delivered(seed_report: dict[str, list[int]]) -> None:
    """Every pg_notify of the seed is reported undeliverable through Supabase Realtime, at its line."""
    assert sorted(seed_report["pg-notify-not-delivered"]) == sorted(_seed_statements())


def test_seed_personal_ids_on_public_channels(seed_report: dict[str, list[int]]) -> None:
    """bidder_id and voter_id are reported where the seed sends them."""
    expected = [line for line, text in _seed_statements().items() if "bidder_id" in text or "voter_id" in text]
    assert sorted(seed_report["sensitive-on-public-topic"]) == sorted(expected)


def test_seed_admin_channels_open_to_anyone(seed_report: dict[str, list[int]]) -> None:
    """Each 'broadcast:admin:' channel of the seed is reported as restricted data anyone can join."""
    expected = [line for line, text in _seed_statements().items() if "broadcast:admin:" in text]
    assert sorted(seed_report["restricted-on-public-topic"]) == sorted(expected)


def test_seed_unbounded_text_payloads(seed_report: dict[str, list[int]]) -> None:
    """The payloads carrying unbounded text (artist name, image URL) are errors: the write would be lost."""
    expected = [line for line, text in _seed_statements().items() if "v_artist_name" in text or "image_url" in text]
    assert sorted(seed_report["payload-too-large"]) == sorted(expected)


def test_seed_timestamps_and_hot_tables(seed_report: dict[str, list[int]]) -> None:
    """NOW() timestamps and created_at sent on UPDATE are flagged; bids and votes notify from hot tables."""
    statements_by_line = _seed_statements()
    now_lines = [line for line, text in statements_by_line.items() if "NOW()" in text]
    media = [line for line, text in statements_by_line.items() if "image_url" in text]
    assert sorted(seed_report["timestamp-semantics"]) == sorted(now_lines + media)
    assert len(seed_report["hot-table-notify"]) == 2


def test_seed_exit_status_is_error() -> None:
    """Checking the seed's SQL fails (exit status 1): it has error-level findings."""
    assert check([ROOT / "sql"]).exit_status == 1


def test_recommended_variant_has_no_errors() -> None:
    """The corrected variant draws no error- or warning-level finding."""
    report = check(
        [ROOT / "sql" / "variants" / "recommended_triggers.sql"],
        schema=[ROOT / "sql" / "schema.sql", ROOT / "sql" / "realtime.sql"],
    )
    assert [f for f in report.findings if f.severity is not Severity.NOTE] == []
    assert report.exit_status == 0


def test_directory_does_not_descend_into_variants() -> None:
    """A directory means its own *.sql: sql/ checks the seed, not the variant beside it."""
    report = check([ROOT / "sql"])
    assert not any("variants" in (f.path or "") for f in report.findings)


# -- configuration -------------------------------------------------------------------------


def _pyproject(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(body)
    return path


def test_config_disables_rules_and_overrides_severity(tmp_path: Path) -> None:
    """[tool.bcastsim] disable drops a rule; severity turns errors into notes."""
    config = load_config(
        _pyproject(
            tmp_path,
            '[tool.bcastsim]\ndisable = ["hot-table-notify"]\nseverity = { "pg-notify-not-delivered" = "note" }\n',
        ),
        all_rules(),
    )
    report = check([ROOT / "sql"], config=config)
    rules = {f.rule for f in report.findings}
    assert "hot-table-notify" not in rules
    assert {f.severity for f in report.findings if f.rule == "pg-notify-not-delivered"} == {Severity.NOTE}


def test_config_sensitive_columns_are_patterns(tmp_path: Path) -> None:
    """Custom sensitive-column patterns replace the defaults: art codes become sensitive, person ids not."""
    config = load_config(
        _pyproject(tmp_path, '[tool.bcastsim]\nsensitive-columns = ["art.code"]\nsensitive-keys = []\n'), all_rules()
    )
    report = check([ROOT / "sql"], config=config)
    messages = [f.message for f in report.findings if f.rule == "sensitive-on-public-topic"]
    assert messages
    assert all("art_code" in message for message in messages)


def test_config_transport_postgres_accepts_pg_notify(tmp_path: Path) -> None:
    """With transport = "postgres" pg_notify is the intended transport and is not reported."""
    config = load_config(_pyproject(tmp_path, '[tool.bcastsim]\ntransport = "postgres"\n'), all_rules())
    assert not any(f.rule == "pg-notify-not-delivered" for f in check([ROOT / "sql"], config=config).findings)


@pytest.mark.parametrize(
    "body",
    [
        '[tool.bcastsim]\ndisable = ["no-such-rule"]\n',
        '[tool.bcastsim]\ntransport = "kafka"\n',
        "[tool.bcastsim]\nhot-tables = 3\n",
        '[tool.bcastsim]\nseverity = { "hot-table-notify" = "fatal" }\n',
        "[tool.bcastsim\n",
    ],
)
def test_bad_config_is_an_input_error(tmp_path: Path, body: str) -> None:
    """A malformed or unknown setting is an input error naming pyproject.toml."""
    with pytest.raises(InputError) as raised:
        load_config(_pyproject(tmp_path, body), all_rules())
    assert raised.value.path is not None
    assert raised.value.path.endswith("pyproject.toml")


# -- suppression ---------------------------------------------------------------------------


def _seed_copy(tmp_path: Path, edit: tuple[str, str]) -> Path:
    directory = tmp_path / "sql"
    directory.mkdir()
    for name in ("schema.sql", "realtime.sql"):
        (directory / name).write_text((ROOT / "sql" / name).read_text())
    text = SEED.read_text()
    assert edit[0] in text
    (directory / "broadcast_triggers.sql").write_text(text.replace(edit[0], edit[1], 1))
    return directory


@pytest.mark.parametrize(
    ("before", "after", "suppressed"),
    [
        (
            "  PERFORM pg_notify(\n    CONCAT('broadcast:bid:'",
            "  PERFORM pg_notify( -- bcastsim: ignore[pg-notify-not-delivered]\n    CONCAT('broadcast:bid:'",
            True,
        ),
        (
            "  -- Targeted broadcast to specific art channel (load reduction)\n",
            "  -- bcastsim: ignore[hot-table-notify, pg-notify-not-delivered]\n",
            True,
        ),
        (
            "  -- Get event context\n",
            "  -- bcastsim: ignore[pg-notify-not-delivered]\n",
            True,
        ),
        (
            "CREATE TRIGGER broadcast_bid_trigger",
            "-- bcastsim: ignore[pg-notify-not-delivered]\nCREATE TRIGGER broadcast_bid_trigger",
            False,
        ),
    ],
)
def test_suppression_anywhere_on_the_statement(tmp_path: Path, before: str, after: str, suppressed: bool) -> None:
    """`-- bcastsim: ignore[rule]` hides the rule's findings anywhere in its statement, not in another one."""
    directory = _seed_copy(tmp_path, (before, after))
    report = check([directory])
    bid_line = next(
        number
        for number, line in enumerate((directory / "broadcast_triggers.sql").read_text().splitlines(), 1)
        if "PERFORM pg_notify(" in line
    )
    at_line = [f for f in report.findings if f.rule == "pg-notify-not-delivered" and f.line == bid_line]
    assert (not at_line) is suppressed
    assert (report.suppressed > 0) is suppressed


# -- the PL/pgSQL facts the rules rely on ----------------------------------------------------


def test_row_reads_pair_coalesce_over_new_and_old() -> None:
    """COALESCE(NEW.x, OLD.x) reads are paired (safe on every event); bare reads are not; a literal is none."""
    refs = expression_reads("SELECT COALESCE(NEW.event_id, OLD.event_id), OLD.round, 'NEW.fake'")
    assert refs is not None
    assert [(r.record, r.column, r.paired) for r in refs] == [
        ("NEW", "event_id", True),
        ("OLD", "event_id", True),
        ("OLD", "round", False),
    ]


@pytest.mark.parametrize(
    ("call", "builder"),
    [
        ("pg_notify(CONCAT('a:', v), 'x')", "concat"),
        ("pg_notify('a:' || v, 'x')", "||"),
        ("pg_notify(format('a:%s', v), 'x')", "format"),
        ("pg_notify('a', 'x' || v)", "literal"),
        ("pg_notify(w, 'x')", "||"),
        ("realtime.send('{}'::jsonb, 'e', topic => 'a:' || v)", "||"),
        ("realtime.send('{}'::jsonb, 'e', 'a:' || v, false)", "||"),
    ],
)
def test_channel_builder(call: str, builder: str) -> None:
    """How a channel argument is built (through a variable too) is carried on the site."""
    sql = (
        "CREATE FUNCTION f(v text) RETURNS void LANGUAGE plpgsql AS $$\n"
        f"DECLARE w text := 'a:' || v;\nBEGIN\n  PERFORM {call};\nEND $$;"
    )
    (site,) = load_catalog_text(sql).notify_sites
    assert site.channel_builder == builder


_OPS = sorted(ALL_OPS)


@st.composite
def _conditions(draw: st.DrawFn, depth: int = 0) -> tuple[str, object]:
    """A read-once boolean condition over TG_OP tests and opaque atoms, with a model to evaluate it."""
    choice = draw(st.integers(0, 5 if depth < 3 else 2))
    if choice == 0:
        op = draw(st.sampled_from(_OPS))
        return f"TG_OP = '{op}'", ("eq", op)
    if choice == 1:
        ops = draw(st.lists(st.sampled_from(_OPS), min_size=1, max_size=3, unique=True))
        listed = ", ".join(f"'{op}'" for op in ops)
        return f"TG_OP IN ({listed})", ("in", frozenset(ops))
    if choice == 2:
        name = f"c{draw(st.integers(0, 10**6))}"
        return f"NEW.{name} IS NULL", ("opaque",)
    if choice == 3:
        text, model = draw(_conditions(depth + 1))
        return f"NOT ({text})", ("not", model)
    left_text, left = draw(_conditions(depth + 1))
    right_text, right = draw(_conditions(depth + 1))
    word = "AND" if choice == 4 else "OR"
    return f"({left_text}) {word} ({right_text})", (word.lower(), left, right)


def _possible(model: object, op: str) -> set[bool]:
    kind = model[0]  # type: ignore[index]
    if kind == "eq":
        return {op == model[1]}  # type: ignore[index]
    if kind == "in":
        return {op in model[1]}  # type: ignore[index]
    if kind == "opaque":
        return {True, False}
    if kind == "not":
        return {not value for value in _possible(model[1], op)}  # type: ignore[index]
    left, right = _possible(model[1], op), _possible(model[2], op)  # type: ignore[index]
    if kind == "and":
        return {a and b for a in left for b in right}
    return {a or b for a in left for b in right}


@given(_conditions())
def test_tg_op_guards_match_brute_force(condition: tuple[str, object]) -> None:
    """The TG_OP evaluator says exactly which operations can make a condition true or false."""
    text, model = condition
    when_true, when_false = operations_where(text, True), operations_where(text, False)
    assert when_true == frozenset(op for op in ALL_OPS if True in _possible(model, op))
    assert when_false == frozenset(op for op in ALL_OPS if False in _possible(model, op))
    assert decided_ops(text) == frozenset(op for op in ALL_OPS if len(_possible(model, op)) == 1)


def test_statements_carry_tg_op_branches() -> None:
    """Statements inside IF TG_OP branches run only under those operations."""
    from bcastsim.sqlmodel import load_catalog

    catalog = load_catalog([ROOT / "sql" / "schema.sql", SEED])
    function = catalog.functions["broadcast_round_contestants_realtime"]
    assigns = [s for s in statements(function.plpgsql) if s.kind == "PLpgSQL_stmt_assign"]
    assert [s.ops for s in assigns] == [
        frozenset({"INSERT"}),
        frozenset({"DELETE"}),
        frozenset({"UPDATE", "TRUNCATE"}),
    ]


def test_disabled_rule_config_roundtrip() -> None:
    """A config built in code disables rules the same way the pyproject table does."""
    config = attrs.evolve(ReviewConfig(), disable=frozenset({"pg-notify-not-delivered"}))
    assert not any(f.rule == "pg-notify-not-delivered" for f in check([ROOT / "sql"], config=config).findings)


def test_docs_list_every_rule() -> None:
    """docs/review.md documents every rule id bcastsim can report."""
    text = (ROOT / "docs" / "review.md").read_text()
    assert [rule for rule in all_rules() if f"`{rule}`" not in text] == []


_SEED_FINDINGS = sorted({(f.rule, f.line or 0) for f in check([ROOT / "sql"]).findings})


@settings(max_examples=20)  # each example loads and checks the seed from a fresh directory
@given(st.sets(st.sampled_from(_SEED_FINDINGS)))
def test_suppressing_any_subset_hides_exactly_it(chosen: set[tuple[str, int]]) -> None:
    """Suppression comments hide exactly the findings they name, and the summary counts them."""
    with tempfile.TemporaryDirectory() as work:
        directory = Path(work)
        for name in ("schema.sql", "realtime.sql"):
            (directory / name).write_text((ROOT / "sql" / name).read_text())
        lines = SEED.read_text().splitlines()
        by_line: dict[int, list[str]] = {}
        for rule, line in chosen:
            by_line.setdefault(line, []).append(rule)
        for line, rules in by_line.items():
            lines[line - 1] += f" -- bcastsim: ignore[{', '.join(sorted(rules))}]"
        (directory / "broadcast_triggers.sql").write_text("\n".join(lines) + "\n")
        report = check([directory])
    spans = statement_spans(SEED.read_text())

    def statement(line: int) -> tuple[int, int] | None:
        return next((span for span in spans if span[0] <= line <= span[1]), None)

    hidden = {(rule, statement(line)) for rule, line in chosen}
    remaining = {(f.rule, f.line or 0) for f in report.findings}
    assert remaining == {(rule, line) for rule, line in _SEED_FINDINGS if (rule, statement(line)) not in hidden}
    assert report.suppressed == sum(
        1 for f in check([ROOT / "sql"]).findings if (f.rule, statement(f.line or 0)) in hidden
    )


def test_reads_ruled_out_by_tg_op_in_case_and_and_are_not_mismatches() -> None:
    """OLD.x in a CASE branch or an AND that TG_OP = 'INSERT' rules out is never read on INSERT."""
    sql = (
        "SELECT CASE WHEN TG_OP = 'INSERT' THEN now() ELSE OLD.created_at END, "
        "CASE WHEN TG_OP = 'UPDATE' AND OLD.updated_at >= now() THEN OLD.updated_at ELSE now() END, OLD.name"
    )
    reads = expression_reads(sql)
    assert reads is not None

    def read_on(operation: str) -> set[tuple[str, str]]:
        return {(r.record, r.column) for r in reads if operation in r.operations}

    assert read_on("INSERT") == {("OLD", "name")}
    assert read_on("UPDATE") == {("OLD", "created_at"), ("OLD", "updated_at"), ("OLD", "name")}


def test_lookup_kept_non_null_by_a_guard_is_not_a_foreign_key_note() -> None:
    """A lookup guarded by IF NOT FOUND THEN RETURN is safe; the same lookup trusting the foreign key is a note."""
    path = ROOT / "tests" / "fixtures" / "sql" / "review" / "guarded_lookup.sql"
    findings = check([path], config=ReviewConfig(), schema=FIXTURE_SCHEMA).findings
    noted = [f.function for f in findings if f.rule == "channel-from-nullable"]
    assert noted == ["item_event_trusting"]
