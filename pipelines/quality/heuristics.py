"""Rule-based quality filters: C4's page and line rules, and the GitHub rules of SPEC §1.

Each filter returns (text to keep or None, reason or None). A kept text may be shorter than the input
(C4 drops lines; GitHub drops the licence header). Reasons are the drop reasons written to the
`dropped` table.
"""
from __future__ import annotations

import re

# ------------------------------------------------------------------ C4 (Raffel et al. 2020, tfds c4_utils)

TERMINAL_PUNCT = (".", "!", "?", '"', "'", "\u201d")
# A short stand-in for the "List of Dirty, Naughty, Obscene, and Otherwise Bad Words" C4 uses.
BAD_WORDS = frozenset({"porn", "porno", "xxx", "fuck", "fucking", "shit", "cunt", "blowjob", "dildo", "viagra"})
_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
_CITATION = re.compile(r"\[\d+\]|\[edit\]|\[citation needed\]", re.I)
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")
_WORD = re.compile(r"[a-z']+")


def c4_filter(text: str, min_words_per_line: int = 3, min_sentences: int = 5,
              max_word_length: int = 1000) -> tuple[str | None, str | None]:
    lowered = text.lower()
    if "lorem ipsum" in lowered:
        return None, "c4_lorem_ipsum"
    if "{" in text:
        return None, "c4_curly_bracket"
    if BAD_WORDS & set(_WORD.findall(lowered)):
        return None, "c4_bad_words"
    kept = []
    for line in text.split("\n"):
        line = _CITATION.sub("", line).strip()
        if not line or not line.endswith(TERMINAL_PUNCT):
            continue
        words = line.split()
        if len(words) < min_words_per_line or max(len(w) for w in words) > max_word_length:
            continue
        low = line.lower()
        if "javascript" in low or any(p in low for p in _POLICY):
            continue
        kept.append(line)
    if not kept:
        return None, "c4_no_valid_lines"
    out = "\n".join(kept)
    if len(_SENTENCE_END.findall(out)) < min_sentences:
        return None, "c4_too_few_sentences"
    return out, None


# ------------------------------------------------------------------ GitHub (SPEC §1)

PERMISSIVE = re.compile(r"^(apache|bsd|0bsd|mit)([-. ]|$)", re.I)

# A leading comment block that talks about copyright or licences is boilerplate (kept: a shebang).
_HEADER_WORDS = re.compile(r"copyright|licen[cs]e|spdx-license-identifier|all rights reserved|\(c\)", re.I)
_LEADING_COMMENT = re.compile(
    r"\A(?P<shebang>#![^\n]*\n)?(?P<block>"
    r"(?:\s*/\*.*?\*/[ \t]*\n?)"                        # /* ... */
    r"|(?:\s*<!--.*?-->[ \t]*\n?)"                      # <!-- ... -->
    r"|(?:\s*(?:\"\"\"|''').*?(?:\"\"\"|''')[ \t]*\n?)"  # Python module docstring
    r"|(?:[ \t]*(?:#|//|--|;+|%)[^\n]*\n)+"             # runs of line comments
    r")", re.S)


def is_permissive(license_id: str | None) -> bool:
    """Apache, BSD and MIT licences (SPDX ids like Apache-2.0, BSD-3-Clause, MIT)."""
    return bool(license_id) and bool(PERMISSIVE.match(license_id.strip()))


def strip_header(text: str) -> str:
    """Remove leading comment blocks that mention copyright or a licence (repeatedly: a file may have two)."""
    while True:
        m = _LEADING_COMMENT.match(text)
        if not m or not _HEADER_WORDS.search(m.group("block")):
            return text
        text = (m.group("shebang") or "") + text[m.end():].lstrip("\n")


def github_filter(text: str, max_line_length: int = 1000, max_mean_line_length: float = 100,
                  min_alnum_fraction: float = 0.25) -> tuple[str | None, str | None]:
    lines = text.split("\n")
    lengths = [len(l) for l in lines]
    if max(lengths) > max_line_length:
        return None, "github_long_line"
    if sum(lengths) / len(lengths) > max_mean_line_length:
        return None, "github_mean_line_length"
    if not text or sum(c.isalnum() for c in text) / len(text) < min_alnum_fraction:
        return None, "github_alphanumeric"
    return text, None
