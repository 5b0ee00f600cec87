"""Train the SentencePiece BPE tokenizer of SPEC §2 on a mixture-weighted sample of the curated text.

    from pipelines.tokenizer_training import sample_texts, train_tokenizer
    sample = sample_texts({"commoncrawl": Path("data/quality_filtered/commoncrawl"), ...},
                          max_chars=3_000_000, val_fraction=0.05)
    model_bytes, info = train_tokenizer(sample.texts, vocab_size=2048)

The options follow the Llama tokenizer: BPE, digits split into single tokens, byte fallback for any
character outside the vocabulary, `<unk>`=0 `<s>`=1 `</s>`=2 and no pad, identity normalization with
whitespace kept as is (so decode(encode(x)) == x), a dummy prefix space, whitespace-only pieces allowed.
Training is deterministic: one thread, the sample in a fixed order, no sentence sub-sampling or shuffle.
The held-out validation documents (pipelines.mixture.ValidationSplit) are never part of the sample,
so the round-trip checks below run on text the tokenizer has not seen.
"""
from __future__ import annotations

import io
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import sentencepiece as spm

from pipelines.fs import parquet_file
from pipelines.mixture import PROPORTIONS, ValidationSplit, source_files

# SentencePiece skips input sentences longer than max_sentence_length bytes; long lines (minified code,
# tables) are cut into pieces of at most this many characters instead (4 bytes per char worst case).
MAX_LINE_CHARS = 4096
# Fall back to lower coverage only when the sample needs more distinct characters than the vocabulary holds.
COVERAGES = (0.99995, 0.9995, 0.995)
# SentencePiece's whitespace symbol: a literal U+2581 in the input decodes as a space (a known limit of
# SentencePiece, shared by the Llama tokenizer), so such text cannot round-trip and is reported apart.
META_SYMBOL = "\u2581"

# One short text per script the sources are written in (wiki languages in Latin and Cyrillic, code,
# LaTeX), plus scripts the vocabulary will not cover, which must round-trip through byte fallback.
SCRIPT_PROBES: dict[str, str] = {
    "latin": "The quick brown fox jumps over the lazy dog, twice.",
    "latin-diacritics": "Žluťoučký kůň, façade, naïve, Øresund, straße, ćevapčići, ñandú, Łódź, Ærø.",
    "cyrillic": "Съешь же ещё этих мягких французских булок, да выпей чаю. Ґанок, їжак, Ђорђе.",
    "greek": "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.",
    "cjk": "日本語のテキストと中文文本。",
    "arabic": "نص عربي قصير",
    "emoji": "ok 😀👍🏽",
    "code": "def f(x):\n\tif x >= 10:\n\t\treturn {'a': [1, 2]}  # note\r\n    return None\n",
    "latex": "\\begin{equation}\n  E = mc^{2} \\quad \\forall x \\in \\mathbb{R}\n\\end{equation}",
    "whitespace": "  two leading spaces, trailing tab\t\n\n\nthree newlines   ",
    "numbers": "In 2023, 1,400,000,000,000 tokens cost $3.14 per 0.5 GPU-hours.",
}
DIGIT_PROBE = "12345 67890 3.14159 2023-11-25 x9y0"
# Characters no 2k-32k BPE vocabulary holds (Egyptian hieroglyphs, private use, a rare CJK extension).
UNKNOWN_PROBE = "\U00013000\U00013001\U00013002\ue000\U00020000"


@dataclass
class Sample:
    """The tokenizer's training text and where it came from."""

    texts: list[str] = field(default_factory=list)              # documents, grouped by source in SOURCES order
    chars: dict[str, int] = field(default_factory=dict)         # characters taken per source
    documents: dict[str, int] = field(default_factory=dict)     # documents taken per source
    notes: list[str] = field(default_factory=list)


def _iter_split_texts(directory: str | Path, val_fraction: float, seed: int, held_out: bool) -> Iterator[str]:
    """Texts of one source's documents on one side of the validation split, in file order (streamed)."""
    files = source_files(directory)
    if not files:
        return
    val = ValidationSplit.of_files(files, val_fraction, seed)
    for f in files:
        for batch in parquet_file(f).iter_batches(batch_size=2_000, columns=["id", "text"]):
            for doc_id, text in zip(batch.column("id").to_pylist(), batch.column("text").to_pylist()):
                if (doc_id in val) == held_out and text:
                    yield text


def iter_train_texts(directory: str | Path, val_fraction: float, seed: int = 0) -> Iterator[str]:
    """Texts of one source's training documents (held-out validation ones skipped), in file order."""
    return _iter_split_texts(directory, val_fraction, seed, held_out=False)


def iter_val_texts(directory: str | Path, val_fraction: float, seed: int = 0) -> Iterator[str]:
    """Texts of one source's held-out validation documents, in file order."""
    return _iter_split_texts(directory, val_fraction, seed, held_out=True)


def sample_texts(source_dirs: Mapping[str, str | Path], max_chars: int, val_fraction: float, seed: int = 0,
                 proportions: Mapping[str, float] = PROPORTIONS) -> Sample:
    """A mixture-weighted sample of at most `max_chars` characters of training documents.

    Each source first gets `proportion * max_chars` characters; what a short source cannot fill is
    shared among the others in proportion to their weights, until the cap or all text is used.
    Documents are taken whole, so a source may exceed its quota by at most one document.
    """
    out = Sample(chars={s: 0 for s in proportions}, documents={s: 0 for s in proportions})
    taken: dict[str, list[str]] = {s: [] for s in proportions}
    streams = {s: iter_train_texts(source_dirs[s], val_fraction, seed) for s in proportions if s in source_dirs}
    open_ = dict.fromkeys(streams)
    budget = max_chars
    while budget > 0 and open_:
        weight = sum(proportions[s] for s in open_)
        quotas = {s: max(1, int(budget * proportions[s] / weight)) for s in open_}
        for s, quota in quotas.items():
            got = 0
            while got < quota:
                text = next(streams[s], None)
                if text is None:
                    del open_[s]
                    break
                taken[s].append(text)
                got += len(text)
            out.chars[s] += got
            budget -= got
    for s in proportions:
        out.texts.extend(taken[s])
        out.documents[s] = len(taken[s])
        if not taken[s]:
            out.notes.append(f"{s}: no curated training documents (empty source); the tokenizer sample has none")
    return out


def training_lines(texts: Sequence[str]) -> Iterator[str]:
    """SentencePiece sentences: non-empty lines of each document, long lines cut into pieces."""
    for text in texts:
        for line in text.split("\n"):
            for i in range(0, len(line), MAX_LINE_CHARS):
                piece = line[i:i + MAX_LINE_CHARS]
                if piece.strip():
                    yield piece


def trainer_options(vocab_size: int, coverage: float = COVERAGES[0]) -> dict:
    """The SentencePieceTrainer options (SPEC §2, Llama tokenizer settings, deterministic)."""
    return dict(
        model_type="bpe",
        vocab_size=vocab_size,
        split_digits=True,                  # every number becomes single digits
        byte_fallback=True,                 # unknown UTF-8 characters decompose into <0xNN> byte pieces
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        normalization_rule_name="identity",  # no NFKC: the text comes back exactly
        remove_extra_whitespaces=False,
        add_dummy_prefix=True,
        allow_whitespace_only_pieces=True,
        split_by_unicode_script=True,
        split_by_whitespace=True,
        split_by_number=True,
        character_coverage=coverage,
        max_sentence_length=4 * MAX_LINE_CHARS,
        # Determinism: one thread, every sentence, in the given order.
        num_threads=1,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        minloglevel=2,
    )


def train_tokenizer(texts: Sequence[str], vocab_size: int) -> tuple[bytes, dict]:
    """Train on the documents' lines; returns (the serialized .model, info: seconds, coverage, lines)."""
    lines = list(training_lines(texts))
    if not lines:
        raise ValueError("no text to train the tokenizer on: every source of quality_filtered is empty")
    t0 = time.perf_counter()
    last_error = None
    for coverage in COVERAGES:
        model = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model,
                                           **trainer_options(vocab_size, coverage))
        except RuntimeError as e:  # "Vocabulary size is smaller than required_chars": too many characters
            last_error = e
            continue
        info = {"seconds": time.perf_counter() - t0, "character_coverage": coverage, "lines": len(lines),
                "chars": sum(len(line) for line in lines)}
        return model.getvalue(), info
    raise ValueError(f"SentencePiece could not train a {vocab_size}-piece vocabulary on this sample: {last_error}")


def load(model: bytes | str | Path) -> spm.SentencePieceProcessor:
    """A processor from serialized bytes or a .model file."""
    if isinstance(model, bytes):
        return spm.SentencePieceProcessor(model_proto=model)
    return spm.SentencePieceProcessor(model_file=str(model))


# ---- checks (plain functions; the asset checks call them) ----

def round_trip(sp: spm.SentencePieceProcessor, texts: Sequence[str]) -> dict:
    """decode(encode(x)) == x for every text; texts with a literal U+2581 are counted apart (see META_SYMBOL)."""
    checked, failures, meta = 0, [], 0
    for text in texts:
        if META_SYMBOL in text:
            meta += 1
            continue
        checked += 1
        back = sp.decode(sp.encode(text))
        if back != text:
            at = next((i for i, (a, b) in enumerate(zip(text, back)) if a != b), min(len(text), len(back)))
            failures.append({"at": at, "expected": text[max(0, at - 20):at + 20], "got": back[max(0, at - 20):at + 20]})
    return {"checked": checked, "failed": len(failures), "skipped_meta_symbol": meta, "failures": failures[:5]}


def scripts_of(text: str, limit: int = 20_000) -> set[str]:
    """Unicode scripts (first word of the character name: LATIN, CYRILLIC, CJK, ...) of a text's letters."""
    out = set()
    for ch in text[:limit]:
        if ch.isalpha():
            out.add(unicodedata.name(ch, "UNKNOWN").split(" ")[0])
    return out


def digits_split(sp: spm.SentencePieceProcessor) -> dict:
    """No vocabulary piece holds two digits, and the digit probe encodes to one piece per digit."""
    multi = [sp.id_to_piece(i) for i in range(sp.get_piece_size())
             if sum(c.isdigit() for c in sp.id_to_piece(i)) > 1 and not sp.is_byte(i)]
    ids = [i for i in sp.encode(DIGIT_PROBE) if not sp.is_byte(i)]   # <0x2D> names a byte, not digits
    pieces = [sp.id_to_piece(i) for i in ids]
    digit_pieces = [p for p in pieces if any(c.isdigit() for c in p)]
    digits = sum(c.isdigit() for c in DIGIT_PROBE)
    passed = not multi and len(digit_pieces) == digits and all(len(p.lstrip("\u2581")) == 1 for p in digit_pieces)
    return {"passed": passed, "vocab_pieces_with_several_digits": multi[:10], "probe": DIGIT_PROBE,
            "probe_digits": digits, "probe_digit_pieces": len(digit_pieces)}


def byte_fallback(sp: spm.SentencePieceProcessor, text: str = UNKNOWN_PROBE) -> dict:
    """Characters outside the vocabulary become byte pieces (never <unk>) and decode back exactly."""
    ids = sp.encode(text)
    unk = sum(1 for i in ids if i == sp.unk_id())
    byte_pieces = sum(1 for i in ids if sp.is_byte(i))
    utf8 = len(text.encode("utf-8"))
    exact = sp.decode(ids) == text
    return {"passed": unk == 0 and byte_pieces == utf8 and exact, "unk": unk, "byte_pieces": byte_pieces,
            "utf8_bytes": utf8, "round_trip": exact}


def chars_per_token(sp: spm.SentencePieceProcessor, texts: Sequence[str]) -> float | None:
    """Compression: characters per token (no BOS/EOS) over the texts; None without text."""
    chars = sum(len(t) for t in texts)
    if not chars:
        return None
    tokens = sum(len(ids) for ids in sp.encode(list(texts)))
    return chars / tokens if tokens else None


# ---- the whole stage: sample, train, write, measure ----

def build_tokenizer(source_dirs: Mapping[str, str | Path], out_path: str | Path, vocab_size: int, max_chars: int,
                    val_fraction: float, seed: int = 0, proportions: Mapping[str, float] = PROPORTIONS,
                    eval_docs: int = 200, progress=None) -> dict:
    """Sample, train and atomically write `out_path` (.model); report compression per source.

    Characters per token are measured on up to `eval_docs` held-out validation documents per source.
    `progress(phases done, 3)` after sampling, training (one SentencePiece call) and measuring.
    """
    from common.io import write_bytes

    sample = sample_texts(source_dirs, max_chars, val_fraction, seed, proportions)
    if progress:
        progress(1, 3)
    model, info = train_tokenizer(sample.texts, vocab_size)
    write_bytes(out_path, model)
    if progress:
        progress(2, 3)
    sp = load(Path(out_path))      # what every consumer will load: the file, through plain sentencepiece
    cpt = {}
    for s in proportions:
        held_out = list(_take(iter_val_texts(source_dirs[s], val_fraction, seed), eval_docs)) if s in source_dirs else []
        cpt[s] = round(chars_per_token(sp, held_out), 3) if held_out else None
    if progress:
        progress(3, 3)
    return {"vocab_size": sp.get_piece_size(), "training_seconds": info["seconds"],
            "character_coverage": info["character_coverage"], "sample_chars": dict(sample.chars),
            "sample_documents": dict(sample.documents), "sample_lines": info["lines"],
            "chars_per_token": cpt, "notes": sample.notes}


def _take(it: Iterator[str], n: int) -> Iterator[str]:
    for i, x in enumerate(it):
        if i >= n:
            return
        yield x


def held_out_round_trip(sp: spm.SentencePieceProcessor, source_dirs: Mapping[str, str | Path], val_fraction: float,
                        seed: int = 0, docs_per_source: int = 50) -> dict:
    """Round trip on held-out documents of every source and on one probe text per script (SCRIPT_PROBES)."""
    per_source, scripts, failed, notes = {}, set(), 0, []
    for s, d in source_dirs.items():
        texts = list(_take(iter_val_texts(d, val_fraction, seed), docs_per_source))
        if not texts:
            notes.append(f"{s}: no held-out documents (empty or one-document source); only the probes check it")
        r = round_trip(sp, texts)
        per_source[s] = {k: r[k] for k in ("checked", "failed", "skipped_meta_symbol")}
        if r["failures"]:
            per_source[s]["first_failure"] = r["failures"][0]
        failed += r["failed"]
        for t in texts:
            scripts |= scripts_of(t)
    probes = {name: round_trip(sp, [text])["failed"] == 0 for name, text in SCRIPT_PROBES.items()}
    return {"passed": failed == 0 and all(probes.values()), "per_source": per_source, "probes": probes,
            "scripts_seen": sorted(scripts), "notes": notes}
