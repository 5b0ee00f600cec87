"""The curate assets materialize on small synthetic partitions; every balance check passes; bad input is handled."""
import json
import random

import dagster as dg
import numpy as np
import pyarrow as pa

from assets.curate import curation_report, deduplicated, language_identified, quality_filtered, quality_models
from pipelines.document import RAW_SCHEMA
from pipelines.io import read_dropped, read_parquet_dir
from pipelines.partition import write_partition
from resources import ArtifactStorage, DumpsResource, ProfileResource

EN = ["The river was crossed by a new bridge in the nineteenth century.",
      "Many travellers visited the museum during the long summer.",
      "The council studied a plan to improve the old harbour.",
      "A small town became known for its history and its gardens."]


def english(r, n=8):
    return "\n".join(" ".join(r.choice(EN) for _ in range(3)) for _ in range(n // 2))


def write_raw(root, source, texts, **cols):
    rows = [{"id": f"{source[:2]}{i:03d}", "source": source, "text": t, **{k: v[i] for k, v in cols.items()}}
            for i, t in enumerate(texts)]
    # Two files per partition: the stages work file by file and must agree with the partition view.
    half = len(rows) // 2
    tables = [pa.Table.from_pylist(rows[:half], schema=RAW_SCHEMA), pa.Table.from_pylist(rows[half:], schema=RAW_SCHEMA)]
    write_partition(root / "raw_documents" / source / "d1", root / "dropped" / "raw_documents" / source / "d1",
                    tables, RAW_SCHEMA)


def invalid_utf8_table():
    """A text column holding bytes that are not UTF-8 (as a careless writer could produce)."""
    data = b"fine text" + b"bad \xff\xfe bytes"
    offsets = np.array([0, 9, len(data)], dtype=np.int32).tobytes()
    text = pa.Array.from_buffers(pa.string(), 2, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    cols = {f.name: pa.nulls(2, f.type) for f in RAW_SCHEMA}
    cols.update(id=pa.array(["ar000", "ar001"]), source=pa.array(["arxiv"] * 2), text=text)
    return pa.table(cols, schema=RAW_SCHEMA)


def test_curate_assets(data_dir, tmp_path):
    r = random.Random(0)
    cc = [english(r) for _ in range(30)]
    cc += [cc[0], "Le comité a publié son rapport annuel sur l'état de la rivière et du port.", ""]
    write_raw(data_dir, "commoncrawl", cc)
    write_raw(data_dir, "wikipedia", [english(r, 12) for _ in range(25)] + ["東京は日本の首都であり、世界最大の都市圏の一つです。"],
              lang=["en"] * 25 + ["ja"])
    write_raw(data_dir, "c4", [])                                    # an empty partition
    write_partition(data_dir / "raw_documents" / "arxiv" / "d1", data_dir / "dropped" / "raw_documents" / "arxiv" / "d1",
                    [invalid_utf8_table()], RAW_SCHEMA)
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    (dumps / "ground_truth.json").write_text(json.dumps({"exact_duplicates": [["co030", "co000"]],
                                                         "languages": {"co031": "fr"}}))
    res = {"storage": ArtifactStorage(root=str(data_dir)), "dumps": DumpsResource(root=str(dumps)),
           "profile": ProfileResource(name="tiny")}
    instance = dg.DagsterInstance.ephemeral()
    sources = ["commoncrawl/d1", "wikipedia/d1", "c4/d1", "arxiv/d1"]
    instance.add_dynamic_partitions("dumps", sources)
    for asset in (deduplicated, language_identified):
        for s in sources:
            out = dg.materialize([asset], partition_key=s, resources=res, instance=instance)
            assert [e.passed for e in out.get_asset_check_evaluations()] == [True], (asset, s)
    assert dg.materialize([quality_models], resources=res, instance=instance).success
    for s in sources:
        out = dg.materialize([quality_filtered], partition_key=s, resources=res, instance=instance)
        assert [e.passed for e in out.get_asset_check_evaluations()] == [True], s
    out = dg.materialize([curation_report], resources=res, instance=instance)
    meta = out.asset_materializations_for_node("curation_report")[0].metadata
    assert "| commoncrawl | deduplicated | exact_duplicate | 1 |" in meta["drops"].value
    assert meta["plot"].value.startswith("![drops](data:image/png;base64,")
    assert meta["exact_recall"].value == 1.0 and meta["lid_accuracy"].value == 1.0

    dropped = read_dropped(data_dir / "deduplicated" / "commoncrawl").to_pylist()
    assert {(d["id"], d["reason"], d["detail"]) for d in dropped} >= {("co030", "exact_duplicate", "co000")}
    lid = read_dropped(data_dir / "language_identified" / "wikipedia").to_pylist()
    assert [d["id"] for d in lid] == ["wi025"]
    # The invalid bytes were replaced, not lost; the empty partition produced empty outputs.
    arxiv = read_parquet_dir(data_dir / "quality_filtered" / "arxiv")
    assert arxiv.column("text").to_pylist() == ["fine text", "bad \ufffd\ufffd bytes"]
    assert read_parquet_dir(data_dir / "quality_filtered" / "c4").num_rows == 0
    assert (data_dir / "curation_report" / "drops.png").stat().st_size > 1000
    page = (data_dir / "reports" / "curation_report" / "index.html").read_text()   # the HTML report, served
    assert "<h2>Drops per rule</h2>" in page and meta["report_url"].value.endswith("/curation_report/index.html")
