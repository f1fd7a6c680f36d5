"""Reading input files and writing output files, so that every failure is one line naming the path.

Inputs are read once, from regular files only (a FIFO would block, a device never ends), as
UTF-8 with a bounded size. Outputs are written to a temporary file beside the target and
renamed over it only when everything is written, and only when the target is absent or a
regular file: a symlink, a device node or a directory at the output path is refused rather
than replaced.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from bcastsim._errors import InputError

__all__ = [
    "MAX_INPUT_BYTES_ENV",
    "check_output",
    "json_text",
    "make_directory",
    "max_input_bytes",
    "path_kind",
    "read_bytes",
    "read_text",
    "write_output",
    "write_outputs",
]

MAX_INPUT_BYTES_ENV = "BCASTSIM_MAX_INPUT_BYTES"
_DEFAULT_MAX_INPUT_BYTES = 64 * 1024 * 1024

_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def _reason(error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "too many levels of symbolic links (a symlink loop?)"
    return error.strerror or type(error).__name__


def max_input_bytes() -> int:
    """The largest input file read, from ``BCASTSIM_MAX_INPUT_BYTES`` (default 64 MiB)."""
    raw = os.environ.get(MAX_INPUT_BYTES_ENV, "")
    try:
        value = int(raw) if raw.strip() else _DEFAULT_MAX_INPUT_BYTES
    except ValueError:
        raise InputError(
            f"{MAX_INPUT_BYTES_ENV}={raw!r} is not a whole number of bytes", fix=f"e.g. {MAX_INPUT_BYTES_ENV}=134217728"
        ) from None
    return max(1, value)


def path_kind(path: str | Path, what: str = "path") -> str:
    """``"file"``, ``"directory"``, ``"missing"`` or ``"other"`` (a device, FIFO, socket), following links.

    A name too long, a symlink loop or a directory that cannot be searched is an input error.
    """
    name = str(path)
    if not name:
        raise InputError(f"empty {what}", fix="name a file or directory")
    try:
        info = os.stat(name)
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    except OSError as error:
        raise InputError(f"cannot use {what}: {_reason(error)}", path=name, fix="check the path") from None
    except ValueError:  # an embedded NUL
        raise InputError(f"{what} holds a NUL character", path=repr(name), fix="check the path") from None
    if stat.S_ISREG(info.st_mode):
        return "file"
    if stat.S_ISDIR(info.st_mode):
        # A directory its user cannot list or search would fail later, deep in a walk: say so here.
        if not os.access(name, os.R_OK | os.X_OK):
            raise InputError(
                f"cannot read {what}: a directory you may not list or search (Permission denied)",
                path=name,
                fix="check the directory's permissions",
            )
        return "directory"
    return "other"


def _repository_of(directory: Path) -> Path | None:
    """The nearest directory at or above ``directory`` holding ``.git`` (a checkout or a worktree)."""
    for candidate in (directory, *directory.parents):
        with contextlib.suppress(OSError):
            if os.path.lexists(candidate / ".git"):
                return candidate
    return None


def _outside_repository(name: str) -> Path | None:
    """The repository (else the working directory) a symlinked input leaves, or None when it stays inside."""
    given = Path(os.path.abspath(name))
    try:
        real = Path(os.path.realpath(name, strict=True))
    except (OSError, ValueError):
        return None  # missing, a loop or a NUL: reported by the open below
    root = _repository_of(given.parent) or Path.cwd()
    if root not in given.parents:
        return None  # named outside the repository on purpose: the user's own choice, not a pull request's
    real_root = Path(os.path.realpath(root))
    if real_root in real.parents:
        return None
    return root


def read_bytes(path: str | Path, what: str = "file") -> bytes:
    """The content of the regular file ``path``; anything else, or any OS error, is an input error.

    An input reached through a symbolic link that leaves its repository (or, outside a repository,
    the working directory) is refused: a pull request must not make bcastsim read other files.
    """
    name = str(path)
    if not name:
        raise InputError(f"empty {what} name", fix="name a file")
    leaves = _outside_repository(name)
    if leaves is not None:
        raise InputError(
            f"{what} is a symbolic link to a file outside {leaves}; bcastsim does not follow it",
            path=name,
            fix="replace the link with the file it points to",
        )
    limit = max_input_bytes()
    try:
        # Non-blocking, so that opening a FIFO returns at once and is refused below.
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise InputError(f"cannot read {what}: {_reason(error)}", path=name, fix="check the path") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"{what} is a directory", path=name, fix="name a file")
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{what} is not a regular file (a device, FIFO or socket)", path=name, fix="name a file")
        if info.st_size > limit:
            raise InputError(
                f"{what} is {info.st_size} bytes, over the limit of {limit}",
                path=name,
                fix=f"set {MAX_INPUT_BYTES_ENV} to raise the limit",
            )
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, 1 << 20):
            total += len(chunk)
            if total > limit:
                raise InputError(
                    f"{what} grew over the limit of {limit} bytes while read",
                    path=name,
                    fix=f"set {MAX_INPUT_BYTES_ENV} to raise the limit",
                )
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as error:
        raise InputError(f"cannot read {what}: {_reason(error)}", path=name, fix="check the path") from None
    finally:
        os.close(fd)


def read_text(path: str | Path, what: str = "file") -> str:
    """``path`` decoded as UTF-8 (a leading byte order mark is dropped); other encodings are input errors."""
    data = read_bytes(path, what)
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            raise InputError(f"{what} is {encoding}, not UTF-8", path=str(path), line=1, fix="save the file as UTF-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InputError(
            f"{what} is not UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start})",
            path=str(path),
            line=line,
            fix="save the file as UTF-8",
        ) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InputError(f"{what} contains a NUL character", path=str(path), line=line, fix="save it as plain text")
    return text.removeprefix("\ufeff")


def _check_target(target: Path) -> Path:
    """The directory ``target`` will be written in; refuses targets that are not absent or regular files."""
    if not str(target) or target.name in {"", ".", ".."}:
        raise InputError("output path names no file", path=str(target) or "''", fix="name a file to write")
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        info = None
    except OSError as error:
        raise InputError(
            f"cannot write: {_reason(error)}", path=str(target), fix="choose another output path"
        ) from None
    if info is not None:
        if stat.S_ISLNK(info.st_mode):
            raise InputError(
                "output path is a symbolic link; refusing to replace it",
                path=str(target),
                fix="remove the link or name a regular file",
            )
        if stat.S_ISDIR(info.st_mode):
            raise InputError("output path is a directory", path=str(target), fix="name a file inside it")
        if not stat.S_ISREG(info.st_mode):
            raise InputError(
                "output path is not a regular file (a device, FIFO or socket); refusing to replace it",
                path=str(target),
                fix="name a regular file",
            )
    directory = target.parent
    if not directory.is_dir():
        raise InputError("output directory does not exist", path=str(target), fix="create it first")
    return directory


def check_output(path: str | Path) -> None:
    """Fail now, before long work, if ``path`` could not be written by :func:`write_output`."""
    _check_target(Path(path))


def _mode(target: Path) -> int:
    with contextlib.suppress(OSError):
        return stat.S_IMODE(os.lstat(target).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_outputs(files: Mapping[str | Path, str | bytes | Iterable[str]]) -> None:
    """Write every file or none: all targets are checked and written aside, then renamed into place.

    A file's text may come as pieces (an iterable of strings), written aside as they are produced.
    """
    targets = [(Path(path), text) for path, text in files.items()]
    directories = [_check_target(target) for target, _ in targets]
    staged: list[tuple[str, Path]] = []
    try:
        for (target, text), directory in zip(targets, directories, strict=True):
            try:
                fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{target.name[:64]}.", suffix=".tmp")
            except OSError as error:
                raise InputError(
                    f"cannot write: {_reason(error)}", path=str(target), fix="choose a writable output path"
                ) from None
            staged.append((temporary, target))
            try:
                if isinstance(text, bytes):
                    with os.fdopen(fd, "wb") as binary:
                        binary.write(text)
                else:
                    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                        handle.writelines((text,) if isinstance(text, str) else text)
                os.chmod(temporary, _mode(target))
            except OSError as error:
                raise InputError(
                    f"cannot write: {_reason(error)}", path=str(target), fix="choose a writable output path"
                ) from None
        for temporary, target in staged:
            try:
                os.replace(temporary, target)
            except OSError as error:
                raise InputError(
                    f"cannot write: {_reason(error)}", path=str(target), fix="choose a writable output path"
                ) from None
    finally:
        for temporary, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def make_directory(directory: str | Path, option: str) -> None:
    """Create the output directory ``option`` names (with its parents), or say in one line why not."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(
            f"cannot create the output directory: {_reason(error)}",
            path=directory,
            fix=f"choose a writable {option} directory",
        ) from None
    if not directory.is_dir():
        raise InputError(f"{option} is not a directory", path=directory, fix="name a directory")


def write_output(path: str | Path, text: str | Iterable[str]) -> None:
    """Write ``text`` to ``path`` atomically; a symlink, device, FIFO or directory there is refused."""
    write_outputs({path: text})


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def json_text(value: object, *, indent: int | None = 2) -> str:
    """``value`` as JSON text ending in a newline; NaN and infinities (not JSON) become ``null``."""
    return json.dumps(_finite(value), indent=indent, ensure_ascii=False, allow_nan=False) + "\n"
