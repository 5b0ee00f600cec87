"""Small synthetic `quality_filtered` tables for the tokenizer / mixture / shard / loader tests.

Each source gets documents in its own style and script (English prose, code, Latin and Cyrillic wiki
text, LaTeX, Q&A), written as a committed partition `<root>/quality_filtered/<source>/d1/` with the
columns id, source, text. Deterministic: the same arguments write the same tables.
"""
from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa

from pipelines.document import SOURCES, doc_id
from pipelines.partition import write_partition

_LATIN = "ba be bi bo bu ca ce ci co da de di do fa fe fi ga ge go la le li lo ma me mi mo na ne ni no " \
         "pa pe pi po ra re ri ro sa se si so ta te ti to va ve vi za ze zi th st ch sh qu ing ion ent".split()
_CYR = "ба бе би бо ва ве ви да де ди ка ке ки ла ле ли ма ме ми на не ни по пе ра ре ри са се си та те ти ст ов ий ая ие".split()
_DIAC = "é è ü ö ä ñ ç ž š č ć ł ø å ß".split()


def _word(rng: random.Random, syll: list[str]) -> str:
    return "".join(rng.choice(syll) for _ in range(rng.randint(1, 3)))


def _prose(rng: random.Random, n_words: int, syll: list[str] = _LATIN, diac: bool = False) -> str:
    words = []
    for _i in range(n_words):
        w = _word(rng, syll)
        if diac and rng.random() < 0.1:
            w += rng.choice(_DIAC)
        if rng.random() < 0.05:
            w = str(rng.randint(0, 99999))
        words.append(w)
        if rng.random() < 0.08:
            words[-1] += rng.choice([".", ",", ";", "?"])
        if rng.random() < 0.02:
            words[-1] += "\n\n"
    return " ".join(words).replace("\n ", "\n").capitalize() + "."


def _code(rng: random.Random, n_funcs: int) -> str:
    out = []
    for _ in range(n_funcs):
        name = _word(rng, _LATIN)
        out.append(f"def {name}(x, y={rng.randint(0, 9)}):\n    \"\"\"{_prose(rng, 6)}\"\"\"\n"
                   f"    if x > {rng.randint(0, 1000)}:\n\t\treturn x * y  # {_word(rng, _LATIN)}\n    return [x, y]\n")
    return "\n".join(out)


def _latex(rng: random.Random, n: int) -> str:
    return "\n".join(f"\\section{{{_word(rng, _LATIN)}}}\n{_prose(rng, 40)}\n\\begin{{equation}}\n"
                     f"  x_{{{i}}} = \\frac{{{rng.randint(1, 99)}}}{{\\alpha + {i}}}\n\\end{{equation}}" for i in range(n))


def make_text(source: str, rng: random.Random, scale: int = 1, i: int = 0) -> str:
    if source == "github":
        return _code(rng, 3 * scale)
    if source == "arxiv":
        return _latex(rng, 2 * scale)
    if source == "wikipedia":
        return _prose(rng, 80 * scale, _CYR) if i % 2 else _prose(rng, 80 * scale, diac=True)  # both scripts
    if source == "books":
        return _prose(rng, 600 * scale)
    if source == "stackexchange":
        return f"Q: {_prose(rng, 20 * scale)}\n\nA: {_prose(rng, 40 * scale)}\n\n    code_{rng.randint(0, 9)}()\n"
    return _prose(rng, 120 * scale)


def write_corpus(root: str | Path, docs: dict[str, int] | int = 20, seed: int = 0, scale: int = 1,
                 asset: str = "quality_filtered", files: int = 1) -> Path:
    """Write synthetic documents per source under <root>/<asset>/<source>/; returns <root>/<asset>.

    `docs` is a count per source (0 writes an empty table, a missing source no folder at all).
    """
    root = Path(root) / asset
    counts = docs if isinstance(docs, dict) else {s: docs for s in SOURCES}
    for source, n in counts.items():
        rng = random.Random(f"{seed}-{source}")
        rows = [{"id": doc_id(source, f"synthetic#{i}"), "source": source, "text": make_text(source, rng, scale, i)}
                for i in range(n)]
        schema = pa.schema([("id", pa.string()), ("source", pa.string()), ("text", pa.string())])
        per = max(1, -(-len(rows) // files))
        tables = [pa.Table.from_pylist(rows[k * per:(k + 1) * per], schema=schema)
                  for k in range(max(1, files if rows else 1))]
        # One committed partition (dump "d1") per source, as the curation stages write them.
        write_partition(root / source / "d1", root.parent / "dropped" / asset / source / "d1", tables, schema)
    return root
