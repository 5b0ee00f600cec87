"""Rule-based quality filters: C4's page and line rules, and the GitHub rules of SPEC §1.

Each filter returns (text to keep or None, reason or None). A kept text may be shorter than the input
(C4 drops lines; GitHub drops the licence header). Reasons are the drop reasons written to the
`dropped` table.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

# ------------------------------------------------------------------ C4 (Raffel et al. 2020, tfds c4_utils)
# LLaMA used the released C4, made by TensorFlow Datasets' `c4_utils.clean_page`; these are its rules, line
# by line and in its order (SPEC §1): strip the line; drop it when a word is longer than 1000 characters;
# remove Wikipedia-style citations; drop it unless it ends in an end mark and not in an ellipsis; drop it
# under 5 words; then, on the lines left: "lorem ipsum" drops the page, "javascript" the line, "{" the
# page, a policy/cookie phrase the line, a word of the English bad-words list the page. A page needs 3
# sentences over its kept lines.

END_MARKS = (".", "?", "!", '"')
ELLIPSIS = "..."
POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
POLICY_HINTS = ("cookie", "polic", "terms of use")  # every POLICY phrase holds one: 3 tests per line, not 6
_CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]")
# C4 counts sentences with NLTK's punkt; here a sentence ends at a run of . ! ? (closing quotes or brackets
# may follow) before whitespace or the line's end. A kept line ends in an end mark, so it holds at least one.
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]\u201d\u2019]*(?=\s|$)")
BAD_WORDS_FILE = Path(__file__).resolve().parent / "badwords" / "en"  # in the c4 files' stage version


@functools.lru_cache(maxsize=1)
def bad_words() -> tuple[str, ...]:
    """The English "List of Dirty, Naughty, Obscene, and Otherwise Bad Words" as C4 used it (the LDNOOBW
    commit tfds downloads; badwords/SOURCE.md, CC BY 4.0 licence in badwords/LICENSE)."""
    text = BAD_WORDS_FILE.read_text(encoding="utf-8")
    return tuple(w.strip() for w in text.splitlines() if w.strip())


@functools.lru_cache(maxsize=1)
def _bad_words_regex() -> re.Pattern:
    # A list entry not inside a longer word: no letter a-z on either side (c4_utils' "[^a-z](...)[^a-z]",
    # also at the line's start and end). Longest entries first so "2 girls 1 cup" wins over shorter ones.
    # The rule's definition; has_bad_word gives the same answer faster (tested against this).
    return _alternation(list(bad_words()))


@functools.lru_cache(maxsize=1)
def _bad_words_split() -> tuple[frozenset, dict[str, list[tuple[frozenset, re.Pattern]]], re.Pattern | None, bool]:
    """The list for a fast exact search (the ~400-way alternation tried at every position of every line
    was the filter's largest cost, profiled). Within a match, every run of letters a-z of the entry is a
    maximal run of the line (inside the entry non-letters bound it, at its ends the no-letter-around
    rule does). So: an all-letter entry matches iff it is one of the line's letter runs (a set lookup);
    another entry is searched for only when all its letter runs are among the line's (`keyed`, by its
    longest run); entries without a letter a-z go to `rest`, searched only in a line that can hold them
    (the last value: every such entry is non-ASCII). Same answer as _bad_words_regex().search."""
    letters = frozenset(w for w in bad_words() if _LETTERS.fullmatch(w))
    keyed: dict[str, list[tuple[frozenset, re.Pattern]]] = {}
    rest = []
    for w in bad_words():
        if w in letters:
            continue
        runs = _LETTERS.findall(w)
        if runs:
            keyed.setdefault(max(runs, key=lambda r: (len(r), r)), []).append((frozenset(runs), _alternation([w])))
        else:
            rest.append(w)
    return letters, keyed, _alternation(rest) if rest else None, all(not w.isascii() for w in rest)


def _alternation(words: list[str]) -> re.Pattern:
    words = sorted(words, key=len, reverse=True)
    return re.compile(r"(?<![a-z])(?:" + "|".join(map(re.escape, words)) + r")(?![a-z])")


_LETTERS = re.compile(r"[a-z]+")
# every byte but a-z -> space: an ASCII text's letter runs by one translate and split (3x the regex's speed)
_NOT_LETTER = bytes(b if 97 <= b <= 122 else 32 for b in range(256))


def _letter_runs(low: str) -> set[str]:
    if low.isascii():
        return set(low.encode("ascii").translate(_NOT_LETTER).decode("ascii").split())
    return set(_LETTERS.findall(low))


def has_bad_word(low: str) -> bool:
    """Whether a lower-cased line holds an entry of the list (as _bad_words_regex().search would)."""
    letters, keyed, rest, rest_non_ascii = _bad_words_split()
    runs = _letter_runs(low)
    if not letters.isdisjoint(runs):
        return True
    for r in runs.intersection(keyed):
        if any(need <= runs and pattern.search(low) for need, pattern in keyed[r]):
            return True
    return bool(rest) and not (rest_non_ascii and low.isascii()) and bool(rest.search(low))


def _sentences(line: str) -> int:
    return max(1, len(_SENTENCE_END.findall(line)))


def c4_filter(text: str, min_words_per_line: int = 5, min_sentences: int = 3,
              max_word_length: int = 1000) -> tuple[str | None, str | None]:
    """C4's clean_page: (kept lines joined by newlines, None) or (None, the reason the page is dropped).
    Shortcuts with the same answer (tested against the rules as written): a page without a list entry
    anywhere has none in a line, unless removing a citation joined two words; a kept line holds at
    least one sentence, so sentences are only counted when fewer lines than `min_sentences` are kept."""
    clean = not has_bad_word(text.lower())  # a line's match is the page's: its edges are line breaks
    kept = []
    for line in text.splitlines():
        line = uncited = line.strip()
        cited = False
        if "[" in line:  # every citation form holds one: the words change only then
            line = _CITATION.sub("", line)
            cited = line != uncited
        if not line.endswith(END_MARKS) or line.endswith(ELLIPSIS):
            continue
        if len(line.split()) < min_words_per_line:
            continue
        if len(uncited) > max_word_length and max(map(len, uncited.split())) > max_word_length:
            continue  # (C4 tests word length before removing citations)
        low = line.lower()
        if "lorem ipsum" in low:
            return None, "c4_lorem_ipsum"
        if "javascript" in low:
            continue
        if "{" in line:
            return None, "c4_curly_bracket"
        if any(h in low for h in POLICY_HINTS) and any(p in low for p in POLICY):
            continue
        if (not clean or cited) and has_bad_word(low):
            return None, "c4_bad_words"
        kept.append(line)
    if not kept:
        return None, "c4_no_valid_lines"
    if len(kept) < min_sentences and sum(map(_sentences, kept)) < min_sentences:
        return None, "c4_too_few_sentences"
    return "\n".join(kept).strip(), None


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
