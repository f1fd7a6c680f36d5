"""Contract diff between two versions of the SQL: files, directories or ``git:REV:path`` revisions.

A version is loaded into a catalog; its notify sites become *messages* keyed by what a
subscriber filters on (the payload's constant ``type`` or the broadcast event, and the
channel's shape). Each difference a subscriber or operator would notice is a finding.
"""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from bcastsim._errors import InputError
from bcastsim._io import MAX_INPUT_BYTES_ENV, max_input_bytes, path_kind
from bcastsim.findings import Finding, Severity
from bcastsim.review._config import ReviewConfig
from bcastsim.review._emission import emission_changes
from bcastsim.review._report import RuleInfo
from bcastsim.review._rules import NOTIFY_PAYLOAD_LIMIT, RuleContext, is_public

if TYPE_CHECKING:
    from bcastsim.sqlmodel import Catalog, NotifySite, PayloadField, SqlLimits

__all__ = [
    "DIFF_RULES",
    "Version",
    "diff_catalogs",
    "expand_sql_paths",
    "left_out_sql_paths",
    "load_version",
    "materialize",
    "schema_at",
]

# Files a directory is loaded in first: tables before the functions and triggers using them.
_LOAD_FIRST = ("schema.sql", "realtime.sql")


def _extract_tar(archive: bytes, destination: Path) -> None:
    """Unpack a ``git archive`` tar, refusing anything that would land outside ``destination``."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(destination, filter="data")
            return
        # Python before 3.11.4 has no extraction filters: keep plain files and directories
        # with relative names only.
        for member in tar.getmembers():
            name = Path(member.name)
            if name.is_absolute() or ".." in name.parts or not (member.isfile() or member.isdir()):
                continue
            tar.extract(member, destination)


def expand_sql_paths(paths: Sequence[Path], migrations: str | None = None) -> list[Path]:
    """Files in load order: a directory in its migration tool's order, else by name with the schema first."""
    from bcastsim.sqlmodel import order_directory

    files: list[Path] = []
    for path in paths:
        kind = path_kind(path, "SQL path")
        if kind == "directory":
            ordered = order_directory(path, migrations)
            found = [p for p in ordered.files if path_kind(p) == "file"]
            if not found:
                raise InputError("directory holds no .sql files", path=str(path))
            first = (
                [p for name in _LOAD_FIRST for p in found if p.name == name] if ordered.convention == "plain" else []
            )
            files.extend(first + [p for p in found if p not in first])
        elif kind == "file":
            files.append(path)
        elif kind == "other":
            raise InputError("not a regular file (a device, FIFO or socket)", path=str(path), fix="name a .sql file")
        else:
            raise InputError("no such file or directory", path=str(path))
    return files


def left_out_sql_paths(paths: Sequence[Path], migrations: str | None = None) -> list[tuple[Path, str]]:
    """The ``*.sql`` files of the directories in ``paths`` that their tool does not run on the way up.

    With how a use found there is placed; they are read for the statements that need a superuser only.
    """
    from bcastsim.sqlmodel import order_directory

    left_out: list[tuple[Path, str]] = []
    for path in paths:
        if path_kind(path, "SQL path") == "directory":
            ordered = order_directory(path, migrations)
            left_out.extend((p, ordered.left_out_context) for p in ordered.left_out if path_kind(p) == "file")
    return left_out


@attrs.frozen
class Version:
    """One side of a review: the label the user gave, the files read and how to show their paths."""

    label: str
    files: tuple[Path, ...]
    shown: dict[str, str] = attrs.field(factory=dict)
    #: files the migration tool does not run on the way up, read for what needs a superuser: (file, placed as)
    left_out: tuple[tuple[Path, str], ...] = ()

    def display(self, path: str | None) -> str | None:
        if path is None:
            return None
        return self.shown.get(path, path)


_TREE_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# What a revision may look like: git's own ref-name rules plus the ~, ^, @{...} suffixes; no option.
_REVISION = re.compile(r"[^\-\s\x00-\x1f\x7f][^\s\x00-\x1f\x7f]{0,254}")


def _check_revision(rev: str, spec: str) -> None:
    if not _REVISION.fullmatch(rev) or ".." in rev:
        raise InputError(
            f"{rev!r} is not a revision (a revision may not start with '-', hold spaces, control characters or '..')",
            path=spec,
            fix="write e.g. git:HEAD~1:sql/ or git:main:sql/",
        )


def _git(args: Sequence[str], cwd: Path, *, quiet_failure: bool = False) -> bytes:
    try:
        completed = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, check=False, stdin=subprocess.DEVNULL, timeout=120
        )
    except FileNotFoundError:
        raise InputError("git is not installed, so git:REV:PATH cannot be read") from None
    except subprocess.TimeoutExpired:
        raise InputError(f"git {' '.join(args)} did not finish within 120 s") from None
    if completed.returncode != 0:
        if quiet_failure:
            return b""
        message = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InputError(f"git {' '.join(args)} failed: {message[-1] if message else 'no output'}")
    return completed.stdout


def _check_tree(top: Path, tree_id: str, pathspec: str, spec: str) -> None:
    """Before anything is unpacked: no symbolic link, and no blob over the input size limit, under ``pathspec``."""
    listing = _git(["--literal-pathspecs", "ls-tree", "-r", "-l", "-z", "--end-of-options", tree_id, pathspec], top)
    limit = max_input_bytes()
    for entry in listing.split(b"\0"):
        meta, _, name = entry.partition(b"\t")
        fields = meta.split()
        if len(fields) != 4:
            continue
        shown = f"git:{spec.split(':', 2)[1]}:{name.decode('utf-8', 'replace')}"
        if fields[0] == b"120000":
            raise InputError(
                "a symbolic link in the revision; bcastsim does not follow links out of a revision",
                path=shown,
                fix="commit the file itself instead of a link",
            )
        if fields[1] == b"blob" and fields[3].isdigit() and int(fields[3]) > limit:
            raise InputError(
                f"a file of {int(fields[3]):,} bytes in the revision, over the limit of {limit:,}",
                path=shown,
                fix=f"set {MAX_INPUT_BYTES_ENV} to raise the limit",
            )


def materialize(spec: str, workdir: Path, cwd: Path | None = None, *, missing_ok: bool = False) -> Version:
    """Resolve ``spec`` (a path or ``git:REV:PATH``) to files on disk, extracting revisions into ``workdir``.

    ``missing_ok``: a path the revision does not have is an empty version, not an error.
    """
    cwd = cwd or Path.cwd()
    if not spec.startswith("git:"):
        files = expand_sql_paths([Path(spec)])
        return Version(spec, tuple(files), left_out=tuple(left_out_sql_paths([Path(spec)])))
    parts = spec.split(":", 2)
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise InputError(f"{spec!r} is not git:REV:PATH", fix="write e.g. git:HEAD~1:sql/")
    rev, rel = parts[1], parts[2]
    _check_revision(rev, spec)
    top = Path(_git(["rev-parse", "--show-toplevel"], cwd).decode().strip())
    try:
        target = (cwd / rel).resolve()
    except (OSError, RuntimeError) as error:  # a symlink loop or a name too long
        raise InputError(f"cannot use {rel}: {error}", path=spec, fix="name a path inside the repository") from None
    try:
        inside = target.relative_to(top.resolve())
    except ValueError:
        raise InputError(f"{rel} is outside the git repository at {top}", path=spec) from None
    pathspec = inside.as_posix() or "."
    # The revision is resolved to a tree id first, and both commands are told where options end:
    # nothing the user wrote can reach git as an option.
    tree = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{tree}}"], top, quiet_failure=True)
    tree_id = tree.decode("ascii", "replace").strip()
    if not _TREE_ID.fullmatch(tree_id):
        raise InputError(f"{rev!r} is not a revision of the repository at {top}", path=spec, fix="e.g. git:HEAD~1:sql/")
    if missing_ok and not _git(["--literal-pathspecs", "ls-tree", "--end-of-options", tree_id, pathspec], top).strip():
        return Version(spec, ())
    _check_tree(top, tree_id, pathspec, spec)
    archive = _git(["--literal-pathspecs", "archive", "--format=tar", "--end-of-options", tree_id, pathspec], top)
    destination = workdir / f"rev{len(list(workdir.iterdir()))}"
    destination.mkdir()
    _extract_tar(archive, destination)
    extracted = destination / pathspec
    if not extracted.exists():
        raise InputError(f"{rel} does not exist at {rev}", path=spec)
    files = expand_sql_paths([extracted])
    left_out = left_out_sql_paths([extracted])
    shown = {}
    for file in [*files, *(path for path, _ in left_out)]:
        relative = file.relative_to(destination).as_posix()
        shown[str(file)] = f"git:{rev}:{relative}"
    return Version(spec, tuple(files), shown, tuple(left_out))


def schema_at(spec: str, schema: Sequence[Path], workdir: Path, cwd: Path | None = None) -> Version:
    """The schema files as the revision of ``spec`` (``git:REV:PATH``) had them, for the old side of a review.

    A schema file the repository tracks is the pull request's as much as its SQL (its configuration
    names it, and it can edit it): loaded unchanged on both sides, a statement added to it would be
    in the old version too, and never introduced. Such a file is read as it was at the revision
    (not loaded when it did not exist there); one the repository does not track (generated by the
    job, or kept outside the checkout) is the operator's, the same on both sides. A ``spec`` on disk
    has no revision: the files are taken as they are.
    """
    if not spec.startswith("git:") or not schema:
        return Version("schema", tuple(schema))
    rev = spec.split(":", 2)[1]
    cwd = cwd or Path.cwd()
    top = Path(_git(["rev-parse", "--show-toplevel"], cwd).decode().strip()).resolve()
    files: list[Path] = []
    shown: dict[str, str] = {}
    for path in schema:
        resolved = (cwd / path).resolve()
        if not resolved.is_relative_to(top) or not _tracked(top, resolved.relative_to(top).as_posix()):
            files.append(path)
            continue
        at_revision = materialize(f"git:{rev}:{resolved}", workdir, cwd, missing_ok=True)
        files.extend(at_revision.files)
        shown.update(at_revision.shown)
    return Version(f"schema at {rev}", tuple(files), shown)


def _tracked(top: Path, relative: str) -> bool:
    """Whether the repository at ``top`` tracks the file (in its index: committed or staged)."""
    return bool(_git(["--literal-pathspecs", "ls-files", "-z", "--", relative], top).strip(b"\0"))


def load_version(
    version: Version, schema: Sequence[Path] = (), migrations: str | None = None, limits: SqlLimits | None = None
) -> Catalog:
    """The catalog of ``schema`` files followed by the version's files; input errors name the shown path."""
    from bcastsim.sqlmodel import load_catalog

    try:
        return load_catalog([*schema, *version.files], migrations=migrations, limits=limits, left_out=version.left_out)
    except InputError as error:
        if error.path is not None and error.path in version.shown:
            raise InputError(error.message, path=version.shown[error.path], line=error.line, fix=error.fix) from None
        raise


# -- diff rules --------------------------------------------------------------------------


def _info(rule_id: str, severity: Severity, title: str, why: str, fix: str) -> RuleInfo:
    return RuleInfo(id=rule_id, severity=severity, title=title, why=why, fix=fix)


DIFF_RULES: dict[str, RuleInfo] = {
    info.id: info
    for info in (
        _info(
            "channel-added",
            Severity.NOTE,
            "New channel or topic",
            "A new channel needs subscribers (and, when private, an RLS policy) before it carries anything.",
            "subscribe the clients that need it; check its audience",
        ),
        _info(
            "channel-removed",
            Severity.ERROR,
            "Channel or topic no longer sent to",
            "Subscribers still joined to the old channel silently stop receiving messages.",
            "keep sending on the old channel until every client has moved, or ship the client change first",
        ),
        _info(
            "channel-renamed",
            Severity.ERROR,
            "Message moved to a different channel or topic",
            "Clients subscribed to the old name receive nothing, with no error on either side.",
            "send on both names during the rollout, or update and deploy the clients first",
        ),
        _info(
            "channel-key-changed",
            Severity.WARNING,
            "Channel built from a different value",
            "The channel keeps its shape but its variable part now comes from another column: "
            "subscribers that derive the name from the old value may join the wrong channel.",
            "keep the value the clients use to name the channel, or update the clients with it",
        ),
        _info(
            "message-removed",
            Severity.ERROR,
            "Message type no longer sent",
            "Clients waiting for this message type never get it again.",
            "confirm no client depends on it, or keep sending it",
        ),
        _info(
            "message-added",
            Severity.NOTE,
            "New message type",
            "New messages reach every subscriber of the channel; old clients may not expect them.",
            "make sure clients ignore message types they do not know",
        ),
        _info(
            "payload-key-removed",
            Severity.ERROR,
            "Payload key removed",
            "Subscribers that read the key get undefined: a breaking change for every client.",
            "keep the key (possibly null) until clients stop reading it",
        ),
        _info(
            "payload-key-renamed",
            Severity.ERROR,
            "Payload key renamed",
            "Subscribers that read the old key get undefined.",
            "send both keys during the rollout, or update the clients first",
        ),
        _info(
            "payload-key-retyped",
            Severity.ERROR,
            "Payload value type changed",
            "A value that changes JSON type (string to number, number to string) breaks comparisons and "
            "arithmetic in clients.",
            "keep the old type, or add a new key with the new type",
        ),
        _info(
            "payload-key-nullable",
            Severity.WARNING,
            "Payload value can now be null",
            "Clients that assumed a value is always present may crash on null.",
            "keep the value NOT NULL, or make clients handle null",
        ),
        _info(
            "payload-key-added",
            Severity.NOTE,
            "Payload key added",
            "Additive and safe for clients; it grows the payload.",
            "none needed; mind the payload size",
        ),
        _info(
            "payload-size-changed",
            Severity.NOTE,
            "Worst-case payload size changed",
            "The worst case decides whether pg_notify can fail (8000 bytes) and what each message costs.",
            "keep payloads small: ids and scalars",
        ),
        _info(
            "payload-rendering-changed",
            Severity.NOTE,
            "Payload text rendering changed (json vs jsonb)",
            "json_build_object renders '{\"a\" : 1}', jsonb '{\"a\": 1}' with keys reordered: clients "
            "or tests comparing payload text see a change.",
            "compare parsed JSON, never payload text",
        ),
        _info(
            "message-narrowed",
            Severity.ERROR,
            "Message sent on fewer writes",
            "Subscribers that relied on the message for those writes stop receiving it, with no error anywhere: "
            "a trigger event dropped, a WHEN or UPDATE OF added, or an IF that no longer sends.",
            "keep sending under the old conditions, or confirm no subscriber needs the message there",
        ),
        _info(
            "message-widened",
            Severity.NOTE,
            "Message sent on more writes",
            "Subscribers receive the message on writes that did not send it before: more traffic, and clients "
            "must tolerate the new cases.",
            "make sure clients handle the message in the new cases",
        ),
        _info(
            "event-renamed",
            Severity.ERROR,
            "Broadcast event name changed",
            "realtime-js listeners filter on the event name: .on('broadcast', {event}) stops matching.",
            "keep the event name, or update the clients first",
        ),
        _info(
            "audience-widened",
            Severity.ERROR,
            "Audience widened: private to public",
            "A public channel runs no authorization: anyone can now read what only authorized users could.",
            "keep private => true and an RLS policy, unless the data is truly public",
        ),
        _info(
            "audience-narrowed",
            Severity.WARNING,
            "Audience narrowed: public to private",
            "Clients must now join with { config: { private: true } } and pass an RLS policy; old clients "
            "joined publicly receive nothing.",
            "ship the client change and the RLS policy together with this one",
        ),
        _info(
            "transport-changed",
            Severity.WARNING,
            "Transport changed",
            "pg_notify listeners and Realtime subscribers are different audiences: moving a message "
            "between them moves who receives it.",
            "move the consumers in the same release",
        ),
        _info(
            "trigger-changed",
            Severity.WARNING,
            "Trigger timing, events or level changed",
            "Changing when a trigger fires changes which writes send messages and what NEW/OLD hold.",
            "check the function still matches the new events",
        ),
        _info(
            "trigger-dropped",
            Severity.WARNING,
            "Trigger dropped",
            "Writes to the table no longer run the function: its messages stop.",
            "confirm no subscriber depends on them",
        ),
        _info(
            "trigger-added",
            Severity.NOTE,
            "Trigger added",
            "A new trigger adds work to every matching write.",
            "check it is AFTER, row-level and restricted to the columns it needs",
        ),
        _info(
            "function-dropped",
            Severity.WARNING,
            "Function dropped",
            "Dropping a trigger function (with CASCADE) also drops its triggers.",
            "confirm the drop is intended",
        ),
    )
}


@attrs.frozen
class _Message:
    key: tuple[str, str]
    site: NotifySite

    @property
    def kind(self) -> str:
        return self.key[0]

    @property
    def shape(self) -> str:
        return self.key[1]


def _message_kind(site: NotifySite, index: int) -> str:
    field = site.field("type")
    if field is not None and field.constant is not None:
        return field.constant
    if site.event is not None and site.event.is_literal:
        return str(site.event)
    # No type and no event name in the SQL (pg_notify): the function names it, as the simulator does;
    # a function's later sends are numbered from 2.
    return site.function if index == 0 else f"{site.function}#{index + 1}"


def _messages(catalog: Catalog) -> dict[tuple[str, str], _Message]:
    messages: dict[tuple[str, str], _Message] = {}
    per_function: dict[str, int] = {}
    for site in RuleContext(catalog, ReviewConfig()).sites():
        index = per_function.get(site.function, 0)
        per_function[site.function] = index + 1
        key = (_message_kind(site, index), site.channel.shape)
        messages.setdefault(key, _Message(key, site))
    return messages


def _json_type(field: PayloadField) -> str | None:
    sql_type = (field.sql_type or "").lower()
    if not sql_type:
        return None
    if sql_type in {"integer", "bigint", "smallint", "numeric", "real", "double precision", "int", "float"}:
        return "number"
    if sql_type == "boolean":
        return "boolean"
    if sql_type in {"json", "jsonb"}:
        return "json"
    return "string"


def _finding(
    rule_id: str,
    message: str,
    site: NotifySite | None,
    shown: Version,
    *,
    severity: Severity | None = None,
    path: str | None = None,
    line: int | None = None,
    function: str | None = None,
    channel: str | None = None,
) -> Finding:
    info = DIFF_RULES[rule_id]
    if site is not None:
        path = path or site.location.path
        line = line or site.location.line
        function = function or site.function
        channel = channel or str(site.channel)
    return Finding(
        rule=rule_id,
        severity=severity or info.severity,
        message=message,
        path=shown.display(path),
        line=line,
        channel=channel,
        function=function,
        # A contract change is the author's to accept or undo: advice, never a patch.
        explanation=info.fix,
        why=info.why,
    )


def _compare_payloads(old: NotifySite, new: NotifySite, label: str, new_version: Version) -> Iterator[Finding]:
    if old.payload is None or new.payload is None:
        return
    old_keys = {f.key: f for f in old.payload}
    new_keys = {f.key: f for f in new.payload}
    removed = [k for k in old_keys if k not in new_keys]
    added = [k for k in new_keys if k not in old_keys]
    renamed: list[tuple[str, str]] = []
    for key in list(removed):
        before = old_keys[key]
        for candidate in added:
            after = new_keys[candidate]
            same_source = bool(before.sources) and set(before.sources) == set(after.sources)
            same_expression = before.expression_sql.strip() == after.expression_sql.strip()
            if same_source or same_expression:
                renamed.append((key, candidate))
                removed.remove(key)
                added.remove(candidate)
                break
    for before_key, after_key in renamed:
        yield _finding(
            "payload-key-renamed",
            f"{label}: payload key '{before_key}' is now '{after_key}'",
            new,
            new_version,
        )
    for key in removed:
        yield _finding("payload-key-removed", f"{label}: payload key '{key}' was removed", new, new_version)
    for key in added:
        yield _finding("payload-key-added", f"{label}: payload key '{key}' was added", new, new_version)
    for key, before in old_keys.items():
        if key not in new_keys:
            continue
        after = new_keys[key]
        old_type, new_type = _json_type(before), _json_type(after)
        if old_type and new_type and old_type != new_type:
            yield _finding(
                "payload-key-retyped",
                f"{label}: payload key '{key}' changes from a JSON {old_type} ({before.sql_type}) "
                f"to a JSON {new_type} ({after.sql_type})",
                new,
                new_version,
            )
        elif not before.nullable and after.nullable:
            yield _finding(
                "payload-key-nullable",
                f"{label}: payload key '{key}' can now be null"
                + (f" ({after.nullable_reason})" if after.nullable_reason else ""),
                new,
                new_version,
            )


def _compare_emission(old: NotifySite, new: NotifySite, label: str, new_version: Version) -> Iterator[Finding]:
    for change in emission_changes(old.emitted_when, new.emitted_when):
        op = change.operation
        if change.narrowed and change.new == "never":
            message = (
                f"{label} is no longer sent on {op} (was sent when {change.old}): subscribers that "
                f"relied on it for {op} writes stop receiving it"
            )
        elif change.narrowed:
            message = (
                f"{label} on {op} is now sent only when {change.new} (was: {change.old}); e.g. when "
                f"{change.example}, subscribers no longer receive it"
            )
        elif change.old == "never":
            message = f"{label} is now also sent on {op} (when {change.new})"
        else:
            message = f"{label} on {op} is now also sent when {change.example} (was: {change.old}; now: {change.new})"
        yield _finding("message-narrowed" if change.narrowed else "message-widened", message, new, new_version)


def _size_text(size: int | None) -> str:
    return "unbounded" if size is None else f"{size} bytes"


def _compare_messages(old: NotifySite, new: NotifySite, label: str, new_version: Version) -> Iterator[Finding]:
    if old.transport != new.transport:
        yield _finding(
            "transport-changed",
            f"{label}: sent with {new.transport} instead of {old.transport}",
            new,
            new_version,
        )
    if not is_public(old) and is_public(new):
        yield _finding(
            "audience-widened",
            f"{label}: '{new.channel}' becomes public (was private): anyone can join it",
            new,
            new_version,
        )
    elif is_public(old) and not is_public(new):
        yield _finding(
            "audience-narrowed",
            f"{label}: '{new.channel}' becomes private (was public): clients must join with private: true",
            new,
            new_version,
        )
    old_keys = [tuple(sorted(str(s) for s in hole.sources)) for hole in old.channel.holes]
    new_keys = [tuple(sorted(str(s) for s in hole.sources)) for hole in new.channel.holes]
    if old.channel.shape == new.channel.shape and old_keys != new_keys:
        yield _finding(
            "channel-key-changed",
            f"{label}: '{new.channel}' was '{old.channel}': same shape, different value",
            new,
            new_version,
        )
    if old.event is not None and new.event is not None and old.event.shape != new.event.shape:
        yield _finding(
            "event-renamed",
            f"{label}: broadcast event '{old.event}' is now '{new.event}'",
            new,
            new_version,
        )
    yield from _compare_payloads(old, new, label, new_version)
    yield from _compare_emission(old, new, label, new_version)
    if old.max_payload_bytes != new.max_payload_bytes:
        grew = new.max_payload_bytes is None or (
            old.max_payload_bytes is not None and new.max_payload_bytes > old.max_payload_bytes
        )
        crosses = new.transport in {"pg_notify", "NOTIFY"} and (
            new.max_payload_bytes is None or new.max_payload_bytes > NOTIFY_PAYLOAD_LIMIT
        )
        yield _finding(
            "payload-size-changed",
            f"{label}: worst-case payload {'grows' if grew else 'shrinks'} from "
            f"{_size_text(old.max_payload_bytes)} to {_size_text(new.max_payload_bytes)}",
            new,
            new_version,
            severity=Severity.WARNING if (grew and crosses) else Severity.NOTE,
        )
    if old.payload_format is not None and new.payload_format is not None and old.payload_format != new.payload_format:
        yield _finding(
            "payload-rendering-changed",
            f"{label}: payload rendered by {new.payload_format} instead of {old.payload_format} "
            "(spacing and key order of the text change)",
            new,
            new_version,
        )


def _diff_messages(old: Catalog, new: Catalog, old_version: Version, new_version: Version) -> Iterator[Finding]:
    before = _messages(old)
    after = _messages(new)
    kinds = sorted({key[0] for key in before} | {key[0] for key in after})
    for kind in kinds:
        old_shapes = sorted(key[1] for key in before if key[0] == kind)
        new_shapes = sorted(key[1] for key in after if key[0] == kind)
        label = f"message '{kind}'"
        if not new_shapes:
            for shape in old_shapes:
                site = before[(kind, shape)].site
                yield _finding(
                    "message-removed",
                    f"{label} is no longer sent (was on '{site.channel}')",
                    site,
                    old_version,
                )
            continue
        if not old_shapes:
            for shape in new_shapes:
                site = after[(kind, shape)].site
                yield _finding("message-added", f"{label} is new, on '{site.channel}'", site, new_version)
            continue
        gone = [s for s in old_shapes if s not in new_shapes]
        fresh = [s for s in new_shapes if s not in old_shapes]
        for shape in old_shapes:
            if shape in new_shapes:
                yield from _compare_messages(before[(kind, shape)].site, after[(kind, shape)].site, label, new_version)
        for old_shape, new_shape in zip(gone, fresh, strict=False):
            old_site, new_site = before[(kind, old_shape)].site, after[(kind, new_shape)].site
            yield _finding(
                "channel-renamed",
                f"{label} moves from '{old_site.channel}' to '{new_site.channel}'",
                new_site,
                new_version,
            )
            yield from _compare_messages(old_site, new_site, label, new_version)
        for shape in gone[len(fresh) :]:
            site = before[(kind, shape)].site
            yield _finding("channel-removed", f"{label} is no longer sent on '{site.channel}'", site, old_version)
        for shape in fresh[len(gone) :]:
            site = after[(kind, shape)].site
            yield _finding("channel-added", f"{label} is now also sent on '{site.channel}'", site, new_version)


def _diff_triggers(old: Catalog, new: Catalog, old_version: Version, new_version: Version) -> Iterator[Finding]:
    for key in sorted(set(old.triggers) | set(new.triggers)):
        before, after = old.triggers.get(key), new.triggers.get(key)
        name = f"trigger {key[1]} on {key[0]}"
        if after is None and before is not None:
            yield _finding(
                "trigger-dropped",
                f"{name} is gone: writes to {key[0]} no longer run {before.function}",
                None,
                old_version,
                path=before.location.path,
                line=before.location.line,
                function=before.function,
            )
        elif before is None and after is not None:
            yield _finding(
                "trigger-added",
                f"{name} is new: {after.timing} {' OR '.join(after.events)} FOR EACH {after.level} "
                f"runs {after.function}",
                None,
                new_version,
                path=after.location.path,
                line=after.location.line,
                function=after.function,
            )
        elif before is not None and after is not None:
            changes = []
            for attribute, label in (
                ("timing", "timing"),
                ("events", "events"),
                ("level", "level"),
                ("update_columns", "UPDATE OF columns"),
                ("when_sql", "WHEN condition"),
                ("function", "function"),
                ("enabled", "enabled"),
            ):
                was, now = getattr(before, attribute), getattr(after, attribute)
                if was != now:
                    changes.append(f"{label} {_render_value(was) or '-'} -> {_render_value(now) or '-'}")
            if changes:
                yield _finding(
                    "trigger-changed",
                    f"{name}: {'; '.join(changes)}",
                    None,
                    new_version,
                    path=after.location.path,
                    line=after.location.line,
                    function=after.function,
                )


def _render_value(value: object) -> str:
    if isinstance(value, tuple):
        return " OR ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _diff_functions(old: Catalog, new: Catalog, old_version: Version) -> Iterator[Finding]:
    used = {t.function for t in old.triggers.values()}
    for name in sorted(set(old.functions) - set(new.functions)):
        function = old.functions[name]
        if name not in used and not any(site.function == name for site in old.notify_sites):
            continue
        yield _finding(
            "function-dropped",
            f"function {name} is gone",
            None,
            old_version,
            path=function.location.path,
            line=function.location.line,
            function=name,
        )


def diff_catalogs(
    old: Catalog,
    new: Catalog,
    old_version: Version,
    new_version: Version,
    config: ReviewConfig | None = None,
) -> list[Finding]:
    """Every contract difference between ``old`` and ``new`` as findings (disabled ids dropped)."""
    config = config or ReviewConfig()
    findings = [
        *_diff_messages(old, new, old_version, new_version),
        *_diff_triggers(old, new, old_version, new_version),
        *_diff_functions(old, new, old_version),
    ]
    result = []
    for finding in findings:
        if not config.rule_enabled(finding.rule):
            continue
        severity = config.severity_of(finding.rule, finding.severity)
        result.append(attrs.evolve(finding, severity=severity))
    return result
