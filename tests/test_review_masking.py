"""Masking: comments and quoted text blanked in place, so a keyword search in a patch finds only code."""

from __future__ import annotations

from pathlib import Path

import pytest

from _corpus import corpus_root
from bcastsim.review._fixes import masked

ROOT = Path(__file__).resolve().parents[1]


def _scanned(text: str) -> str:
    """The masking spelt out one character at a time: what ``masked`` must give."""
    out = list(text)
    index = 0
    while index < len(text):
        if text.startswith("--", index):
            end = text.find("\n", index)
            end = len(text) if end < 0 else end
        elif text[index] in "'\"":
            end = text.find(text[index], index + 1)
            end = len(text) if end < 0 else end + 1
        else:
            index += 1
            continue
        out[index:end] = ["\n" if char == "\n" else " " for char in text[index:end]]
        index = end
    return "".join(out)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT 'a -- b' -- c\nFROM t", "SELECT          " + "    \nFROM t"),
        ("x = 'it''s' AND \"Col\"", "x =         AND      "),
        ("'open\nto the end", "     \n          "),
        ("-- only a comment", "                 "),
        ("a\r\n'b\rc'\r\n", "a\r\n     \r\n"),
    ],
    ids=["literal-then-comment", "doubled-quote-and-identifier", "unclosed-literal", "comment", "carriage-returns"],
)
def test_comments_and_quoted_text_are_blanked_lines_kept(text: str, expected: str) -> None:
    """Every character of a comment or quoted text becomes a space, newlines stay, the length is kept."""
    assert masked(text) == expected
    assert len(masked(text)) == len(text)


def test_masking_blanks_what_a_scan_of_each_character_blanks() -> None:
    """On every fixture, the seed and the real-world corpus, the masking is the character-by-character scan's."""
    files = sorted((ROOT / "tests" / "fixtures").rglob("*.sql")) + sorted((ROOT / "sql").rglob("*.sql"))
    corpus = corpus_root()
    files += sorted(corpus.rglob("*.sql")) if corpus is not None else []
    assert len(files) > 100
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert masked(text) == _scanned(text), path
