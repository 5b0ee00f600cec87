"""dedup_files, the bucketed stage: same bytes on every engine, the best copy survives, references win,
GitHub files match after their header is stripped, and line dedup keeps CCNet's semantics."""
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines import recipes
from pipelines.dedup import SCHEMA, dedup_files
from pipelines.dedup.line import dedup_lines
from pipelines.dedup.minhash import MinHashParams
from pipelines.dedup.survivor import rank_features
from pipelines.document import DROPPED_SCHEMA, RAW_SCHEMA
from pipelines.engine import LocalEngine

PARAMS = MinHashParams(bands=25, ngram=5)
VOCAB = [f"w{i}" for i in range(3000)]


def words(rng, n=120):
    return " ".join(rng.choices(VOCAB, k=n))


def sentences(rng, n=12):
    return " ".join(f"{words(rng, rng.randint(6, 14)).capitalize()}." for _ in range(n))


def write_files(tmp, docs_per_file, source="commoncrawl", name="in"):
    """RAW Parquet files from lists of (id, text)."""
    paths = []
    for i, docs in enumerate(docs_per_file):
        p = tmp / name / f"{name}-{i}.parquet"
        p.parent.mkdir(parents=True, exist_ok=True)
        rows = [{"id": d, "source": source, "text": t} for d, t in docs]
        pq.write_table(pa.Table.from_pylist(rows, schema=RAW_SCHEMA), p)
        paths.append(p)
    return paths


def run(tmp, inputs, source="commoncrawl", engine=None, tag="a", **kw):
    out, dropped = tmp / tag / "out", tmp / tag / "dropped"
    r = dedup_files(engine or LocalEngine(1), inputs, [f"k{i}" for i in range(len(inputs))], out, dropped,
                    source, PARAMS, tmp / tag / "work", **kw)
    kept = pa.concat_tables([pq.read_table(out / e["output"], schema=SCHEMA) for e in r["files"]])
    drop = pa.concat_tables([pq.read_table(dropped / e["dropped"], schema=DROPPED_SCHEMA) for e in r["files"]])
    for e in r["files"]:
        assert e["rows_in"] == e["kept"] + e["dropped_rows"]
        assert e["stats"]["read"] == e["rows_in"] and e["stats"]["kept"] == e["kept"]
    assert not list((tmp / tag / "work").iterdir())  # the work dir is cleaned up
    return r, kept, drop


def reasons(drop):
    return dict(zip(drop.column("id").to_pylist(), zip(drop.column("reason").to_pylist(),
                                                       drop.column("detail").to_pylist())))


def planted(rng, n=120):
    """Three files with exact, near (also across files), degraded copies, shared lines, null and blank."""
    base = [sentences(rng) for _ in range(n)]
    docs = [(f"{i:032x}", t) for i, t in enumerate(base)]
    docs += [("e" * 32, base[3]), ("f" * 31 + "0", base[50])]                         # exact
    docs += [("d" * 32, base[7].replace(" w", "  W").upper())]                           # degraded copy
    docs += [("c" * 32, base[9] + " tail words here")]                                   # near
    docs += [("b" * 31 + str(k), f"Home | About\nCookie policy\n{base[k][:200]}") for k in range(5)]
    docs += [("a" * 31 + "1", None), ("a" * 31 + "2", "  \n ")]
    rng.shuffle(docs)
    return [docs[:60], docs[60:61], docs[61:]]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dedup-in")
    return write_files(tmp, planted(random.Random(0)))


def test_planted_cases_and_accounting(tmp_path, inputs):
    r, kept, drop = run(tmp_path, inputs)
    why = reasons(drop)
    assert why["e" * 32] == ("exact_duplicate", f"{3:032x}")
    assert why["f" * 31 + "0"] == ("exact_duplicate", f"{50:032x}")
    assert why["d" * 32] == ("near_duplicate", f"{7:032x}")  # the all-caps copy goes, the article stays
    assert why[f"{9:032x}"] == ("near_duplicate", "c" * 32)  # the longer copy survives
    assert why["a" * 31 + "1"][0] == "null_text" and why["a" * 31 + "2"][0] == "empty_text"
    texts = dict(zip(kept.column("id").to_pylist(), kept.column("text").to_pylist()))
    # The menu lines stay in the first document (in file order) that has them, and go from the others.
    with_menu = [i for i, t in texts.items() if t.startswith("Home | About")]
    assert len(with_menu) == 1
    assert r["info"]["exact_duplicates"] == 2 and r["info"]["near_duplicates"] >= 2
    assert kept.num_rows + drop.num_rows == sum(pq.ParquetFile(p).metadata.num_rows for p in inputs)
    assert kept.column("cluster_id").to_pylist() == kept.column("id").to_pylist()
    dup = dict(zip(kept.column("id").to_pylist(), kept.column("duplicates").to_pylist()))
    assert dup[f"{3:032x}"] == 1 and dup[f"{7:032x}"] >= 1


def _bytes(tmp, r, tag):
    return ([(tmp / tag / "out" / e["output"]).read_bytes() for e in r["files"]],
            [(tmp / tag / "dropped" / e["dropped"]).read_bytes() for e in r["files"]])


def test_same_bytes_with_any_bucket_count(tmp_path, inputs):
    r1, _, _ = run(tmp_path, inputs, tag="one")
    r2, _, _ = run(tmp_path, inputs, tag="many", buckets=17, memory_limit="64MB")
    assert _bytes(tmp_path, r1, "one") == _bytes(tmp_path, r2, "many")
    assert [e["output"] for e in r1["files"]] == [e["output"] for e in r2["files"]]


@pytest.mark.slow  # a process pool per map: ~25 s of worker start-up on 2 cores
def test_same_bytes_with_1_and_2_workers(tmp_path, inputs):
    r1, _, _ = run(tmp_path, inputs, tag="one")
    r2, _, _ = run(tmp_path, inputs, engine=LocalEngine(2), tag="two")
    assert _bytes(tmp_path, r1, "one") == _bytes(tmp_path, r2, "two")
    # What goes into the manifest (info without the keys holding "seconds") does not depend on the engine.
    assert r1["files"] == r2["files"]
    assert {k: v for k, v in r1["info"].items() if "seconds" not in k} == \
        {k: v for k, v in r2["info"].items() if "seconds" not in k}


@pytest.mark.slow
def test_same_bytes_on_ray(tmp_path, inputs):
    pytest.importorskip("ray")
    import ray

    from pipelines.engine import RayEngine

    r1, _, _ = run(tmp_path, inputs, tag="local")
    try:
        r2, _, _ = run(tmp_path, inputs, engine=RayEngine(workers=2), tag="ray")
    finally:
        ray.shutdown()
    assert _bytes(tmp_path, r1, "local") == _bytes(tmp_path, r2, "ray")


# ----------------------------------------------------------------------------- survivor rule

def test_rank_features():
    assert rank_features("Hello World. This is fine.") == (85, 0, 5)  # 17 of 20 cased letters
    assert rank_features("HELLO  WORLD. THIS IS FINE.")[0] == 0
    assert rank_features("Home | About\nRead more\nA real sentence ends here.")[1] == 2


def test_rank_columns_count_like_re2_on_any_text():
    import numpy as np
    import pyarrow.compute as pc

    from pipelines.dedup.survivor import rank_columns

    rng = random.Random(5)
    parts = ["Ab", "cd", "EF ", "\n x", "  ", "\t", "Ünï", "Ωμέγα", "ß", "中文", "\u00a0"]
    texts = pa.array(["".join(rng.choices(parts, k=rng.randint(0, 60))) for _ in range(300)] + ["", " ", "A"])
    got = rank_columns(texts)
    lower = pc.count_substring_regex(texts, r"\p{Ll}").to_numpy()
    upper = pc.count_substring_regex(texts, r"\p{Lu}").to_numpy()
    want = np.where(lower + upper > 0, (100 * lower) // np.maximum(lower + upper, 1), 100)
    assert got["lower_pct"].tolist() == want.tolist()
    assert got["words"].tolist() == pc.count_substring_regex(texts, r"\S+").to_numpy().tolist()


@pytest.mark.parametrize("degraded_first", [True, False])
def test_the_article_survives_its_degraded_copy(tmp_path, degraded_first):
    rng = random.Random(1)
    article = sentences(rng, 15)
    degraded = "  ".join(article.upper().split(" "))
    pair = [("0" * 32, degraded), ("f" * 32, article)]  # the degraded copy has the smaller id
    if not degraded_first:
        pair.reverse()
    others = [(f"{k + 1:032x}", sentences(rng)) for k in range(5)]
    _, kept, drop = run(tmp_path, write_files(tmp_path, [pair, others]))
    assert reasons(drop) == {"0" * 32: ("near_duplicate", "f" * 32)}
    assert article in kept.column("text").to_pylist()


# ----------------------------------------------------------------------------- scope: references

def test_reference_dumps_take_part_and_always_win(tmp_path):
    rng = random.Random(2)
    old = [(f"1{k:031x}", sentences(rng)) for k in range(6)] + [("1" * 32, "Shared menu line here\nOld text.")]
    new = [(f"2{k:031x}", sentences(rng)) for k in range(6)]
    new += [("2" * 32, old[0][1]),                                # exact copy of an older dump's page
            ("3" * 32, old[1][1].upper()),                        # a worse near copy
            ("4" * 32, "Shared menu line here\n" + sentences(rng))]
    refs = write_files(tmp_path, [old], name="ref")
    r, kept, drop = run(tmp_path, write_files(tmp_path, [new]), reference_inputs=refs)
    assert reasons(drop) == {"2" * 32: ("exact_duplicate", old[0][0]), "3" * 32: ("near_duplicate", old[1][0])}
    assert not set(kept.column("id").to_pylist()) & {d for d, _ in old}  # nothing written for references
    texts = dict(zip(kept.column("id").to_pylist(), kept.column("text").to_pylist()))
    assert not texts["4" * 32].startswith("Shared menu")          # the line occurred in the older dump
    assert r["info"]["reference_documents"] == len(old) and len(r["files"]) == 1


def test_scope_defaults_follow_llama():
    assert recipes.dedup_scope("commoncrawl") == "dump" and recipes.dedup_scope("books") == "source"
    assert {recipes.dedup_scope(s) for s in recipes.RECIPES} <= {"dump", "source"}


# ----------------------------------------------------------------------------- GitHub

def test_github_files_match_after_the_licence_header_is_stripped(tmp_path):
    code = "def f(x):\n    return x + 1\n"
    files = [("a" * 32, "# Copyright 2020 Alice\n# Licensed under the MIT licence\n" + code),
             ("b" * 32, "/* Copyright (c) Bob. All rights reserved. */\n" + code),
             ("c" * 32, code), ("d" * 32, "# Copyright Carol, MIT licence\n"),
             ("e" * 32, "# Copyright Dave, BSD licence\n")]
    _, _, drop = run(tmp_path, write_files(tmp_path, [files], source="github"), source="github")
    assert reasons(drop) == {"a" * 32: ("exact_duplicate", "c" * 32), "b" * 32: ("exact_duplicate", "c" * 32)}
    assert recipes.step("github", recipes.DEDUP, "exact").params == {"strip_header": True}


# ----------------------------------------------------------------------------- CCNet lines

def test_line_dedup_equals_the_in_memory_reference(tmp_path):
    rng = random.Random(3)
    menu = ["Home | About", "Sign in", "Cookie policy", "Share this 2024!"]
    docs = []
    for k in range(40):
        lines = [sentences(rng, 2) for _ in range(rng.randint(1, 4))]
        lines += rng.sample(menu, rng.randint(0, 3))
        rng.shuffle(lines)
        docs.append((f"{k:032x}", "\n".join(lines)))
    docs.append(("f" * 32, "Sign in\n\nhome | about"))  # only repeated lines: dropped
    _, kept, drop = run(tmp_path, write_files(tmp_path, [docs[:25], docs[25:]]))
    expect, removed = dedup_lines([t for _, t in docs])
    want = {d: t for (d, _), t in zip(docs, expect) if t.strip()}
    got = dict(zip(kept.column("id").to_pylist(), kept.column("text").to_pylist()))
    assert got == want
    assert reasons(drop) == {"f" * 32: ("line_dedup_empty", "2 repeated lines")}
    assert sum(kept.column("lines_removed").to_pylist()) + 2 == int(removed.sum())


# ----------------------------------------------------------------------------- books (issue 17)

def test_contained_books_found_at_low_jaccard(tmp_path):
    """Planted containment pairs at Jaccard 0.3-0.6 (a book inside one up to 3x its length)."""
    rng = random.Random(4)
    books, truth = [], []
    for k in range(12):
        book = "\n".join(sentences(rng, 8) for _ in range(6))
        target = 0.3 + 0.3 * k / 11
        extra = "\n".join(sentences(rng, 8) for _ in range(max(1, round(6 * (1 / target - 1)))))
        small, big = f"{2 * k:032x}", f"{2 * k + 1:032x}"
        if k % 2:  # a few words changed: still > 90% contained
            w = book.split(" ")
            for i in rng.sample(range(len(w)), 3):
                w[i] = "changed"
            book_copy = " ".join(w)
        else:
            book_copy = book
        books += [(small, book), (big, extra + "\n" + book_copy if k % 3 else book_copy + "\n" + extra)]
        truth.append((small, big))
    from pipelines.dedup.minhash import shingles

    text = dict(books)
    jac = []
    for a, b in truth:
        x, y = set(shingles(text[a], PARAMS.ngram)), set(shingles(text[b], PARAMS.ngram))
        jac.append(len(x & y) / len(x | y))
    assert min(jac) < 0.35 and max(jac) > 0.55 and all(0.25 < j < 0.65 for j in jac)
    books += [("f" * 32, "\n".join(sentences(rng, 8) for _ in range(6)))]  # unrelated
    r, _, drop = run(tmp_path, write_files(tmp_path, [books[:13], books[13:]], source="books"), source="books")
    why = reasons(drop)
    found = sum(why.get(s) == ("contained_book", b) for s, b in truth)
    assert found == len(truth), why
    assert set(why) == {s for s, _ in truth}
    assert r["info"]["contained_books"] == len(truth)


# ----------------------------------------------------------------------------- a generated set

@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """CommonCrawl of a ~20k-document generated set, as RAW files of <= 2,000 documents."""
    from pipelines.readers import read_source
    from pipelines.samples.generate import make_samples

    tmp = tmp_path_factory.mktemp("gen20k")
    truth = make_samples(tmp / "dumps", 20_000)
    planted = {d for g in truth["exact_duplicates"] for d in g}
    # One reader call per dump folder (ids name the dump); a layout whose ids are relative to the
    # source folder is read whole.
    cc = tmp / "dumps" / "commoncrawl"
    rows = [d.row() for dump in sorted(cc.iterdir()) for d in read_source("commoncrawl", dump)]
    if not planted & {r["id"] for r in rows}:
        rows = [d.row() for d in read_source("commoncrawl", cc)]
    chunks = [[(r["id"], r["text"]) for r in rows[i:i + 2_000]] for i in range(0, len(rows), 2_000)]
    return write_files(tmp, chunks), truth


@pytest.mark.slow
def test_generated_set_same_bytes_everywhere_and_planted_truth(tmp_path, generated):
    inputs, truth = generated
    r1, kept, drop = run(tmp_path, inputs, tag="one")
    assert len(inputs) >= 5 and kept.num_rows + drop.num_rows >= 10_000
    why = reasons(drop)
    ids = set(kept.column("id").to_pylist()) | set(why)
    exact = [g for g in truth["exact_duplicates"] if set(g) <= ids]
    assert exact and all(sum(why.get(d, ("",))[0] == "exact_duplicate" for d in g) == len(g) - 1 for g in exact)
    near = [p for p in truth["near_duplicates"] if p["jaccard"] >= 0.8 and {p["a"], p["b"]} <= ids]
    merged = [p for p in near if why.get(p["a"], ("",))[0] in ("near_duplicate", "exact_duplicate")
              or why.get(p["b"], ("",))[0] in ("near_duplicate", "exact_duplicate")]
    assert near and len(merged) == len(near)
    r2, _, _ = run(tmp_path, inputs, engine=LocalEngine(2), tag="two")
    assert _bytes(tmp_path, r1, "one") == _bytes(tmp_path, r2, "two")
    try:
        import ray

        from pipelines.engine import RayEngine
    except ImportError:
        return
    try:
        r3, _, _ = run(tmp_path, inputs, engine=RayEngine(workers=2), tag="ray")
    finally:
        ray.shutdown()
    assert _bytes(tmp_path, r1, "one") == _bytes(tmp_path, r3, "ray")


def test_empty_inputs_and_files(tmp_path):
    r = dedup_files(LocalEngine(1), [], [], tmp_path / "o", tmp_path / "d", "commoncrawl", PARAMS, tmp_path / "w")
    assert r["files"] == [] and r["info"]["rows_in"] == 0
    files = write_files(tmp_path, [[], [("a" * 32, None), ("b" * 32, "")], [("c" * 32, "one line")]])
    r, kept, drop = run(tmp_path, files)
    assert [e["rows_in"] for e in r["files"]] == [0, 2, 1] and kept.column("id").to_pylist() == ["c" * 32]
    assert sorted(drop.column("reason").to_pylist()) == ["empty_text", "null_text"]


def test_text_that_is_not_utf8_is_repaired_not_lost(tmp_path):
    good = sentences(random.Random(6))
    raw = pa.array([good.encode(), b"caf\xe9 au lait, une phrase assez longue pour rester."], pa.binary())
    text = pa.Array.from_buffers(pa.string(), len(raw), raw.buffers())  # no UTF-8 check, as a bad writer
    n = len(raw)
    table = pa.table({f.name: pa.array(["a" * 32, "b" * 32]) if f.name == "id" else text if f.name == "text"
                      else pa.nulls(n, f.type) for f in RAW_SCHEMA}, schema=RAW_SCHEMA)
    p = tmp_path / "bad.parquet"
    pq.write_table(table, p)
    r, kept, drop = run(tmp_path, [p])
    assert drop.num_rows == 0 and kept.column("text").to_pylist()[1].startswith("caf\ufffd au lait")
    assert r["info"]["utf8_repaired_texts"] == 1
