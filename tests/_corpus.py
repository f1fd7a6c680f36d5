"""Where the real-world corpus copies live, and the own-schema manifest whose public schemas are read from them.

The corpus manifest (``tests/fixtures/realworld/corpus.toml``) is committed; the copies of the
public projects' files are not. They are read from ``$BCASTSIM_REALWORLD``, else beside the
manifest (git-ignored), else ``../shared/realworld`` beside the checkout.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bcastsim import realtime_sql_file

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS_MANIFEST = FIXTURES / "realworld" / "corpus.toml"
OWN_SCHEMAS = FIXTURES / "foreign" / "schemas.toml"
_REALWORLD = "realworld:"
_REALTIME = "bcastsim:realtime"


def corpus_root() -> Path | None:
    """The directory holding the corpus copies, or None when none of the places has them."""
    first = tomllib.loads(CORPUS_MANIFEST.read_text())["file"][0]["local_path"]
    for candidate in (
        os.environ.get("BCASTSIM_REALWORLD"),
        str(CORPUS_MANIFEST.parent),
        str(ROOT.parent / "shared" / "realworld"),
    ):
        if candidate and (Path(candidate) / first).is_file():
            return Path(candidate)
    return None


CORPUS_MISSING = "corpus copies not found ($BCASTSIM_REALWORLD, beside the manifest, ../shared/realworld)"


def require_corpus_root() -> Path:
    """:func:`corpus_root`, or skip the calling test saying where the copies were looked for."""
    root = corpus_root()
    if root is None:
        pytest.skip(CORPUS_MISSING)
    return root


def own_schemas() -> dict[str, dict[str, Any]]:
    """name -> manifest entry of the own-schema goal (origin, files, patches)."""
    return tomllib.loads(OWN_SCHEMAS.read_text())


def schema_files(name: str, workdir: Path) -> list[Path] | str:
    """The schema's SQL files in load order, or why it is not available here.

    ``realworld:`` files are read from the corpus; a file with ``patch`` entries in the
    manifest is patched (exact text replacements, each matching ``count`` times, once by default) into a copy
    under ``workdir``, so neither the corpus nor the repository is written.
    """
    entry = own_schemas()[name]
    root = corpus_root()
    patches: dict[str, list[dict[str, str]]] = {}
    for patch in entry.get("patch", []):
        patches.setdefault(patch["file"], []).append(patch)
    files: list[Path] = []
    for position, name_in_manifest in enumerate(entry["files"]):
        if name_in_manifest == _REALTIME:
            files.append(realtime_sql_file())
            continue
        if name_in_manifest.startswith(_REALWORLD):
            if root is None:
                return CORPUS_MISSING
            path = root / name_in_manifest.removeprefix(_REALWORLD)
            if not path.is_file():
                return f"{path} is not in the corpus copies"
        else:
            path = FIXTURES / name_in_manifest
        if name_in_manifest in patches:
            text = path.read_text()
            for patch in patches.pop(name_in_manifest):
                expected = int(patch.get("count", 1))
                if text.count(patch["old"]) != expected:
                    raise ValueError(f"{OWN_SCHEMAS}: [{name}] patch of {name_in_manifest} must match {expected} times")
                text = text.replace(patch["old"], patch["new"])
            path = workdir / name / f"{position:02d}-{path.name}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        files.append(path)
    if patches:
        raise ValueError(f"{OWN_SCHEMAS}: [{name}] patches name files it does not load: {sorted(patches)}")
    return files
