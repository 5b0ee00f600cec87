"""The curation recipe as the papers and the tools that made the released data run it, pinned through the
stages: GitHub licences before dedup, MinHash 9 x 13 bands. (C4's released rules: test_c4_rules.py; CCNet's
cut-offs: test_quality.py.)"""
import pyarrow.parquet as pq

from pipelines import curation, recipes
from pipelines.dedup.minhash import MinHashParams, band_keys
from pipelines.engine import LocalEngine
from pipelines.partition import committed_files

GPL = ("GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n\nCopyright (C) 2007 Free Software Foundation\n"
       "Everyone is permitted to copy and distribute verbatim copies of this license document.\n")
MIT = ("MIT License\n\nCopyright (c) 2020 Someone\n\nPermission is hereby granted, free of charge, to any person "
       "obtaining a copy of this software...\n\nThe above copyright notice and this permission notice shall be "
       "included in all copies or substantial portions of the Software.\n")


def _code(i: int) -> str:
    body = "\n".join(f"    total += values[{k}] * {i + k}  # weight {k}" for k in range(6))
    return f"def weighted_{i}(values):\n    total = 0\n{body}\n    return total\n"


def _kept(root, asset, dump):
    rows = []
    for f in committed_files(root / asset / "github" / dump):
        rows += pq.read_table(f, columns=["repo", "path"]).to_pylist()
    return rows


def test_github_files_in_a_gpl_and_an_mit_repository_reach_quality_filtered_from_the_mit_copy(tmp_path):
    """The paper keeps permissive projects, then deduplicates: the MIT copy of each of six files shared with a
    GPL-3.0 repository is curated, whichever copy the survivor rule would have preferred."""
    dumps, root, dump = tmp_path / "dumps", tmp_path / "data", "2023-03"
    for repo, licence in (("aaa__gpl-tool", GPL), ("zzz__mit-tool", MIT)):
        d = dumps / "github" / dump / repo
        (d / "src").mkdir(parents=True)
        (d / "LICENSE").write_text(licence)
        for i in range(6):
            (d / "src" / f"f{i}.py").write_text(_code(i))
    engine = LocalEngine(1)
    m = curation.ingest(engine, root, dumps, "github", dump)
    assert m["skipped_by_reason"] == {"license_not_permissive": 7}      # the GPL repository: 6 files + LICENSE
    curation.dedup(engine, root, "github", dump, MinHashParams(bands=25, ngram=5), workdir=root / "tmp")
    curation.map_stage(engine, root, "deduplicated", "language_identified", "github", dump, curation.LID)
    curation.map_stage(engine, root, "language_identified", "quality_filtered", "github", dump, curation.QUALITY,
                       {"models_dir": "", "models_stamp": ""})
    rows = _kept(root, "quality_filtered", dump)
    assert sorted(r["path"] for r in rows if r["path"].startswith("src/")) == [f"src/f{i}.py" for i in range(6)]
    assert {r["repo"] for r in rows} == {"zzz/mit-tool"}
    assert recipes.step("github", recipes.RAW, "license").params["allow"] == ["Apache", "BSD", "MIT"]
    assert recipes.step("github", recipes.QUALITY, "license") is None


def test_minhash_bands_are_9_by_13_of_128_permutations():
    """SPEC §1: 9 bands x 13 rows (117 of the 128 permutations). Two signatures that agree on the first 117
    values and differ on the 11 unused ones share every band key; 9 x 14 would have split band 9."""
    import numpy as np

    p = MinHashParams()
    assert (p.num_perm, p.bands, p.rows) == (128, 9, 13)
    a = np.arange(128, dtype=np.uint32)[None, :]
    b = a.copy()
    b[0, 117:] += 1
    assert (band_keys(a, p.bands, p.rows) == band_keys(b, p.bands, p.rows)).all()
    b[0, 116] += 1
    assert (band_keys(a, p.bands, p.rows) != band_keys(b, p.bands, p.rows)).sum() == 1
    assert MinHashParams(bands=25).rows == 5          # the tiny profile: 25 bands of 128 // 25 rows


def test_the_dedup_stage_bands_paper_profiles_9_by_13(tmp_path):
    """Through dedup_files with the paper profiles' DataArgs: 9 bands of 13 rows; a near copy (Jaccard
    ~0.9 over 13-grams) is found and the band table holds 9 keys per document."""
    import random

    import pyarrow as pa

    from llama_model.configs import get_profile
    from pipelines.dedup import dedup_files
    from pipelines.document import RAW_SCHEMA

    d = get_profile("llama-7b").data
    params = MinHashParams(num_perm=d.minhash_perms, bands=d.minhash_bands, ngram=d.minhash_ngram)
    rng = random.Random(0)
    words = [f"w{i}" for i in range(5000)]
    docs = [" ".join(rng.choices(words, k=400)) for _ in range(5)]
    docs.append(docs[0].replace(docs[0].split()[200], "changed", 1))            # one word changed of 400
    rows = [{"id": f"{i:032x}", "source": "commoncrawl", "text": t} for i, t in enumerate(docs)]
    path = tmp_path / "in" / "in-0.parquet"
    path.parent.mkdir()
    pq.write_table(pa.Table.from_pylist(rows, schema=RAW_SCHEMA), path)
    r = dedup_files(LocalEngine(1), [path], ["k0"], tmp_path / "out", tmp_path / "dropped", "commoncrawl", params,
                    tmp_path / "work")
    assert r["info"]["minhash"]["bands"] == 9 and r["info"]["minhash"]["rows"] == 13
    assert r["info"]["near_duplicates"] == 1
