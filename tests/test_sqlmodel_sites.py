"""Notify sites: channel templates, payload keys, lineage, nullability, guards and lines."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from bcastsim._resources import builtin_sql_files
from bcastsim.sqlmodel import ColumnRef, NotifySite, PayloadField, load_catalog, load_catalog_text
from bcastsim.sqlmodel._lineage import Value

FIXTURES = Path(__file__).parent / "fixtures" / "sql" / "inspect"


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


@pytest.fixture(scope="module")
def seed():
    return load_catalog(builtin_sql_files())


def _site(sites: tuple[NotifySite, ...], channel: str, type_value: str | None = None) -> NotifySite:
    def type_of(site: NotifySite) -> str | None:
        field = site.field("type")
        return field.constant if field is not None else None

    found = [s for s in sites if str(s.channel) == channel and type_value in (None, type_of(s))]
    assert len(found) == 1, [str(s.channel) for s in sites]
    return found[0]


def test_seed_channel_templates(seed) -> None:
    """Every seed notify site has its channel template, with holes named by source column."""
    assert [str(s.channel) for s in seed.notify_sites] == [
        "broadcast:bid:{bids.art_id}",
        "broadcast:admin:{art.event_id}",
        "broadcast:admin:{art.event_id}",
        "broadcast:event:{art.event_id}",
        "broadcast:event:{art.event_id}",
        "broadcast:art_media:{art_media.art_id}",
        "broadcast:admin:{round_contestants.event_id}",
    ]
    assert all(s.transport == "pg_notify" and s.private is False for s in seed.notify_sites)
    assert all(s.payload_builder == "json_build_object" and s.payload_format == "json" for s in seed.notify_sites)


def test_site_lines_are_real_file_lines(seed) -> None:
    """A site's line is the line of its PERFORM in the file."""
    path = builtin_sql_files()[2]
    bid = _site(seed.notify_sites, "broadcast:bid:{bids.art_id}")
    assert bid.location.path == str(path)
    assert bid.location.line == _line_of(path, "CONCAT('broadcast:bid:'") - 1
    media = _site(seed.notify_sites, "broadcast:art_media:{art_media.art_id}")
    assert media.location.line == _line_of(path, "CONCAT('broadcast:art_media:'") - 1


def test_bid_payload_keys_and_lineage(seed) -> None:
    """The bid payload's keys are the seed's, and bidder_id comes from bids.person_id."""
    bid = _site(seed.notify_sites, "broadcast:bid:{bids.art_id}")
    assert bid.payload_keys == (
        "type",
        "art_id",
        "art_code",
        "artist_name",
        "amount",
        "event_id",
        "timestamp",
        "bidder_id",
    )
    bidder = bid.field("bidder_id")
    assert bidder is not None
    assert bidder.sources == (ColumnRef("bids", "person_id"),)
    assert bidder.expression_sql == "NEW.person_id"
    assert bidder.sql_type == "uuid"
    assert bidder.nullable is False
    assert bid.field("type").values == ("bid_update",)  # type: ignore[union-attr]


def test_left_join_lookup_makes_artist_name_nullable(seed) -> None:
    """artist_name comes from artist_profiles.name through the lookup; the LEFT JOIN makes it nullable."""
    bid = _site(seed.notify_sites, "broadcast:bid:{bids.art_id}")
    artist = bid.field("artist_name")
    assert artist is not None
    assert artist.sources == (ColumnRef("artist_profiles", "name"),)
    assert artist.nullable is True
    assert artist.nullable_reason is not None
    assert "LEFT JOIN artist_profiles" in artist.nullable_reason
    # The art row itself is guaranteed by the NOT NULL foreign key bids.art_id → art.id.
    event = bid.field("event_id")
    assert event is not None
    assert event.sources == (ColumnRef("art", "event_id"),)
    assert event.nullable is False


def test_lookup_without_guaranteed_row_is_nullable() -> None:
    """A lookup by a nullable column can find no row, so the variable it fills can be NULL."""
    catalog = load_catalog(FIXTURES / "rooms.sql")
    site = next(s for s in catalog.notify_sites if s.event is not None and str(s.event) == "message_created")
    author = site.field("author")
    assert author is not None
    assert author.sources == (ColumnRef("members", "handle"),)
    assert author.nullable
    assert author.nullable_reason
    assert "no row" in author.nullable_reason
    # members.handle%TYPE keeps varchar(20): 20 characters, each up to 6 bytes escaped, plus quotes.
    assert author.max_bytes == 6 * 20 + 2


def test_art_branches_have_their_guards(seed) -> None:
    """The art trigger's winner and auction sites are each guarded by their IF condition."""
    winner = _site(seed.notify_sites, "broadcast:event:{art.event_id}", "winner_update")
    auction = _site(seed.notify_sites, "broadcast:event:{art.event_id}", "auction_update")
    assert winner.guards == ("OLD.is_winner IS DISTINCT FROM NEW.is_winner",)
    assert len(auction.guards) == 1
    assert "auction_end_datetime" in auction.guards[0]
    assert winner.operations == ("UPDATE",)
    assert auction.field("auction_start").nullable is True  # type: ignore[union-attr]
    assert winner.field("timestamp").sources == ()  # type: ignore[union-attr]
    assert winner.field("timestamp").sql_type == "timestamptz"  # type: ignore[union-attr]


def test_round_contestants_operations_and_coalesce(seed) -> None:
    """TG_OP branches give the operation's literal values; COALESCE(NEW.x, OLD.x) is never NULL."""
    site = _site(seed.notify_sites, "broadcast:admin:{round_contestants.event_id}")
    assert site.operations == ("INSERT", "UPDATE", "DELETE")
    operation = site.field("operation")
    assert operation is not None
    assert operation.values == ("added", "removed", "updated")
    assert operation.nullable is False
    event = site.field("event_id")
    assert event is not None
    assert event.nullable is False
    assert event.sources == (ColumnRef("round_contestants", "event_id"),)
    art = site.field("art_id")
    assert art is not None
    assert art.nullable is True
    assert site.channel.holes[0].nullable is False


def test_new_is_null_on_delete() -> None:
    """NEW.col in a trigger that also fires on DELETE is nullable, with the reason."""
    catalog = load_catalog_text(
        "CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL);\n"
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
        "  PERFORM pg_notify('t', json_build_object('v', NEW.v, 'o', OLD.v)::text);\n  RETURN NULL;\nEND $$;\n"
        "CREATE TRIGGER tr AFTER INSERT OR DELETE ON t FOR EACH ROW EXECUTE FUNCTION f();\n"
    )
    (site,) = catalog.notify_sites
    assert site.field("v").nullable_reason == "NEW is NULL in a DELETE trigger"  # type: ignore[union-attr]
    assert site.field("o").nullable_reason == "OLD is NULL in an INSERT trigger"  # type: ignore[union-attr]
    assert site.location.line == 4


def test_tg_op_guard_narrows_operations() -> None:
    """A site under IF TG_OP = 'INSERT' runs only on INSERT; ELSIF/ELSE get the rest."""
    catalog = load_catalog(FIXTURES / "rooms.sql")
    by_transport = {(s.transport, s.operations) for s in catalog.notify_sites if s.function == "notify_message"}
    assert by_transport == {
        ("realtime.send", ("INSERT",)),
        ("realtime.send", ("UPDATE",)),
        ("NOTIFY", ("DELETE",)),
    }


def test_realtime_send_named_and_positional_arguments() -> None:
    """realtime.send: topic, event and private from named or positional arguments; private defaults to true."""
    path = FIXTURES / "rooms.sql"
    catalog = load_catalog(path)
    created, edited = (s for s in catalog.notify_sites if s.transport == "realtime.send")
    assert str(created.channel) == "room:{rooms.slug}"
    assert str(created.event) == "message_created"
    assert created.private is False
    assert created.payload_format == "jsonb"
    assert created.payload_keys == ("kind", "id", "body", "author", "score", "at")
    assert created.location.line == _line_of(path, "PERFORM realtime.send(")
    assert str(edited.event) == "message_edited"
    assert edited.private is True
    assert edited.field("title").sources == (ColumnRef("rooms", "title"),)  # type: ignore[union-attr]


def test_broadcast_changes_is_private_with_fixed_keys() -> None:
    """realtime.broadcast_changes sends record/old_record/operation/table/schema, privately."""
    catalog = load_catalog(FIXTURES / "rooms.sql")
    (site,) = [s for s in catalog.notify_sites if s.transport == "realtime.broadcast_changes"]
    assert site.private is True
    assert str(site.channel) == "rooms:{rooms.slug}"
    assert site.payload_keys == ("old_record", "record", "operation", "table", "schema")
    assert site.field("table").values == ("rooms",)  # type: ignore[union-attr]
    assert site.field("operation").values == ("INSERT", "DELETE")  # type: ignore[union-attr]
    assert site.field("record").nullable is True  # type: ignore[union-attr]


def test_notify_statement_is_a_site() -> None:
    """A NOTIFY statement is a site with a literal channel and its literal JSON payload."""
    catalog = load_catalog(FIXTURES / "rooms.sql")
    (site,) = [s for s in catalog.notify_sites if s.transport == "NOTIFY"]
    assert str(site.channel) == "messages_deleted"
    assert site.payload_keys == ("kind",)
    assert site.field("kind").values == ("deleted",)  # type: ignore[union-attr]


def test_channel_variable_is_followed() -> None:
    """A channel kept in a variable (v := 'x:' || NEW.col) still yields a template."""
    catalog = load_catalog_text(
        "CREATE TABLE t (id uuid PRIMARY KEY, room integer NOT NULL);\n"
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nDECLARE ch text;\nBEGIN\n"
        "  ch := 'room:' || NEW.room || ':' || NEW.id;\n"
        "  PERFORM pg_notify(ch, jsonb_build_object('id', NEW.id)::text);\n  RETURN NEW;\nEND $$;\n"
        "CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();\n"
    )
    (site,) = catalog.notify_sites
    assert str(site.channel) == "room:{t.room}:{t.id}"
    assert site.channel.max_bytes == len("room:") + 11 + 1 + 36
    assert site.channel.matches("room:42:5f0c0f5e-aaaa-bbbb-cccc-000000000001")
    assert not site.channel.matches("room:x:5f0c0f5e-aaaa-bbbb-cccc-000000000001")
    assert site.payload_format == "jsonb"


def test_unsupported_constructs_are_diagnostics_with_lines() -> None:
    """format() channels, EXECUTE, loop-built payloads and notify-in-query are diagnostics at their line."""
    path = FIXTURES / "dynamic.sql"
    catalog = load_catalog(path)
    codes = {(d.code, d.location.line) for d in catalog.diagnostics}
    assert ("dynamic-channel", _line_of(path, "format('jobs:%s'")) in codes
    assert ("dynamic-sql", _line_of(path, "EXECUTE 'NOTIFY '")) in codes
    assert ("loop-payload", _line_of(path, "pg_notify('jobs', v_payload::text)")) in codes
    assert ("notify-in-query", _line_of(path, "FROM jobs;")) in codes
    assert all(d.function == "jobs_notify" for d in catalog.diagnostics)
    # The sites are still listed, never dropped.
    assert len(catalog.notify_sites) == 3
    loop_site = next(s for s in catalog.notify_sites if str(s.channel) == "jobs")
    assert loop_site.payload is None


def test_helper_function_sites_reach_calling_tables() -> None:
    """A notify in a helper function is reached from the tables whose trigger functions call it."""
    catalog = load_catalog_text(
        "CREATE TABLE a (id int PRIMARY KEY);\n"
        "CREATE FUNCTION tell(ch text, body text) RETURNS void LANGUAGE plpgsql AS $$\n"
        "BEGIN PERFORM pg_notify(ch, body); END $$;\n"
        "CREATE FUNCTION on_a() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN PERFORM tell('a', NEW.id::text); RETURN NEW; END $$;\n"
        "CREATE TRIGGER tr AFTER INSERT ON a FOR EACH ROW EXECUTE FUNCTION on_a();\n"
    )
    (site,) = catalog.notify_sites
    assert site.function == "tell"
    assert site.tables == ("a",)
    assert str(site.channel) == "{ch}"


def test_cascading_triggers_reach_sites() -> None:
    """A trigger function writing another table reaches that table's notify sites (and the graph shows it)."""
    from bcastsim.contracts import delivery_graph, what_feeds

    catalog = load_catalog_text(
        "CREATE TABLE orders (id int PRIMARY KEY);\n"
        "CREATE TABLE audit (id serial PRIMARY KEY, order_id int NOT NULL);\n"
        "CREATE FUNCTION log_order() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN INSERT INTO audit (order_id) VALUES (NEW.id); RETURN NEW; END $$;\n"
        "CREATE FUNCTION tell_audit() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN PERFORM pg_notify('audit', json_build_object('order', NEW.order_id)::text); RETURN NEW; END $$;\n"
        "CREATE TRIGGER a AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION log_order();\n"
        "CREATE TRIGGER b AFTER INSERT ON audit FOR EACH ROW EXECUTE FUNCTION tell_audit();\n"
    )
    (site,) = catalog.notify_sites
    assert site.tables == ("audit", "orders")
    assert catalog.writes == {"log_order": ("audit",)}
    assert what_feeds(delivery_graph(catalog), "audit").tables == ("audit", "orders")


def test_notify_inside_a_loop_is_one_site() -> None:
    """A notify in a loop body is one site, guarded by the loop, seeing values carried round the loop."""
    catalog = load_catalog_text(
        "CREATE TABLE t (id int PRIMARY KEY);\n"
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "DECLARE i int; ch text := 'a';\nBEGIN\n"
        "  FOR i IN 1..3 LOOP\n"
        "    PERFORM pg_notify(ch, json_build_object('i', i)::text);\n"
        "    ch := 'b';\n"
        "  END LOOP;\n  RETURN NEW;\nEND $$;\n"
        "CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();\n"
    )
    (site,) = catalog.notify_sites
    assert site.guards == ("FORI loop at line 5",)
    assert site.channel.holes
    assert site.channel.holes[0].label == "ch"
    field = site.field("i")
    assert field is not None
    assert (field.sql_type, field.nullable) == ("integer", False)


@pytest.fixture(scope="module")
def edges():
    return load_catalog(FIXTURES / "edges.sql")


def _by_channel(catalog, channel: str) -> NotifySite:
    (site,) = [s for s in catalog.notify_sites if str(s.channel) == channel]
    return site


def test_trigger_arguments_resolve_tg_argv(edges) -> None:
    """TG_ARGV[0] takes the value the CREATE TRIGGER passes."""
    site = _by_channel(edges, "bids_total")
    assert site.channel.is_literal
    total = site.field("total")
    assert total is not None
    assert total.sources == (ColumnRef("Bids", "amount"),)
    assert total.nullable  # sum() over no rows


def test_simple_case_on_tg_op_narrows_operations(edges) -> None:
    """CASE TG_OP WHEN 'INSERT' runs its branch on INSERT only; an empty literal payload is 0 bytes."""
    site = _by_channel(edges, "inserted")
    assert site.operations == ("INSERT",)
    assert site.guards == ("CASE WHEN (TG_OP) IN ('INSERT')",)
    assert site.max_payload_bytes == 0


def test_for_loop_record_and_quoted_identifiers(edges) -> None:
    """row_to_json(r) over FOR r IN SELECT * FROM "Bids" gives the table's columns, case kept."""
    site = _by_channel(edges, "each")
    assert site.payload_keys == ("Id", "amount", "tags")
    assert site.field("Id").sources == (ColumnRef("Bids", "Id"),)  # type: ignore[union-attr]
    assert site.field("amount").nullable is False  # type: ignore[union-attr]


def test_sql_functions_and_procedures_are_scanned(edges) -> None:
    """Notify calls in SQL-language functions and procedures are sites, reached through calls."""
    helper = _by_channel(edges, "bids:{p_id}")
    assert helper.function == "app_notify"
    assert helper.tables == ("Bids",)
    assert helper.location.line == _line_of(FIXTURES / "edges.sql", "SELECT pg_notify('bids:'")
    ping = _by_channel(edges, "ping")
    assert ping.payload is None
    assert [d.code for d in edges.diagnostics] == ["unknown-payload"]
    assert edges.calls == {"bids_changed": ("app_notify", "ping")}


def test_if_not_found_return_makes_lookup_values_present() -> None:
    """After IF NOT FOUND THEN RETURN, the lookup found its row: its NOT NULL columns are not NULL."""
    catalog = load_catalog(FIXTURES / "flow.sql")
    site = next(s for s in catalog.notify_sites if str(s.channel) == "after_found")
    label = site.field("label")
    assert label is not None
    assert label.nullable is False
    note = site.field("note")
    assert note is not None
    assert note.nullable_reason == "parent.note can be NULL"


def test_is_null_raise_narrows_the_variable() -> None:
    """After IF v IS NULL THEN RAISE EXCEPTION, v is not NULL."""
    catalog = load_catalog(FIXTURES / "flow.sql")
    site = next(s for s in catalog.notify_sites if str(s.channel) == "after_note")
    assert site.field("note").nullable is False  # type: ignore[union-attr]
    assert site.max_payload_bytes is not None


def test_code_after_return_is_reported_unreachable() -> None:
    """A notify after RETURN is not a site; a diagnostic names its line."""
    path = FIXTURES / "flow.sql"
    catalog = load_catalog(path)
    assert "dead" not in [str(s.channel) for s in catalog.notify_sites]
    assert [(d.code, d.location.line) for d in catalog.diagnostics] == [
        ("unreachable", _line_of(path, "PERFORM pg_notify('dead'"))
    ]


def test_perform_resets_found() -> None:
    """PERFORM sets FOUND itself, so IF NOT FOUND after it says nothing about an earlier lookup."""
    catalog = load_catalog_text(
        "CREATE TABLE p (id int PRIMARY KEY, label text NOT NULL);\n"
        "CREATE TABLE c (id int PRIMARY KEY, p_id int);\n"
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nDECLARE v text;\nBEGIN\n"
        "  SELECT label INTO v FROM p WHERE id = NEW.p_id;\n"
        "  PERFORM 1;\n"
        "  IF NOT FOUND THEN RETURN NULL; END IF;\n"
        "  PERFORM pg_notify('c', json_build_object('v', v)::text);\n  RETURN NULL;\nEND $$;\n"
        "CREATE TRIGGER t AFTER INSERT ON c FOR EACH ROW EXECUTE FUNCTION f();\n"
    )
    (site,) = catalog.notify_sites
    assert site.field("v").nullable is True  # type: ignore[union-attr]


def test_early_return_removes_operations_and_adds_its_condition() -> None:
    """A site after `IF TG_OP = 'DELETE' THEN … RETURN` is not sent on DELETE, nor when a returning guard held."""
    catalog = load_catalog(FIXTURES / "early_return.sql")
    sites = {str(s.channel): s for s in catalog.notify_sites}
    assert sites["deleted"].operations == ("DELETE",)
    status = sites["status"]
    assert status.operations == ("INSERT", "UPDATE")
    assert status.guards == ("NOT (TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status)",)
    assert [operation for operation, _ in status.emitted_when] == ["INSERT", "UPDATE"]


def test_emission_conditions_leave_out_what_tg_op_settles_for_each_operation() -> None:
    """`NOT (TG_OP = 'UPDATE' AND …)` holds on every INSERT, `TG_OP = 'DELETE'` on every DELETE: sent always there."""
    catalog = load_catalog(FIXTURES / "early_return.sql")
    sites = {str(s.channel): s for s in catalog.notify_sites}
    assert sites["deleted"].emitted_when == (("DELETE", ()),)
    assert dict(sites["status"].emitted_when) == {
        "INSERT": (),
        "UPDATE": ("NOT (TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status)",),
    }


def test_only_the_branch_that_falls_through_guards_what_follows() -> None:
    """After IF … RETURN / ELSIF c THEN … / ELSE RETURN, what follows runs only where that ELSIF held."""
    catalog = load_catalog(FIXTURES / "early_return.sql")
    sites = {str(s.channel): s for s in catalog.notify_sites}
    assert sites["big"].guards == ("NOT (NEW.total IS NULL)", "NEW.total > 100")
    assert sites["after_big"].guards == sites["big"].guards


def test_text_cast_keeps_every_other_field() -> None:
    """Value.as_text changes only the type, modifiers, JSON size and object shape: every other field is kept."""
    field = PayloadField("k", "NEW.k", (), "text", False, 3)
    given = {
        "sources": (ColumnRef("t", "c"),),
        "sql_type": "integer",
        "modifiers": (4,),
        "nullable": True,
        "nullable_reason": "why",
        "values": ("1",),
        "text_bytes": 11,
        "text_chars": 12,
        "text_json_bytes": 13,
        "json_bytes": 14,
        "unbounded_reason": "because",
        "fields": (field,),
        "json_format": "jsonb",
        "is_null": False,
        "traced": False,
        "guarded": True,
    }
    # A field added to Value must be named here (KeyError), and then in as_text.
    value = Value(**{a.name: given[a.name] for a in attrs.fields(Value)})
    expected = attrs.evolve(value, sql_type="varchar", modifiers=(), json_bytes=13, fields=None, json_format=None)
    assert value.as_text("varchar") == expected
