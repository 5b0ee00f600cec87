"""fastText language ID: labels on planted languages, per-recipe filtering, accounting."""
import pyarrow as pa
import pytest

from pipelines.dedup import SCHEMA as DEDUP_SCHEMA
from pipelines.langid import SCHEMA as LID_SCHEMA
from pipelines.langid import identify, identify_partition, load_model

SAMPLES = {
    "en": "The committee published its annual report on the state of the river and the old harbour.",
    "fr": "Le comité a publié son rapport annuel sur l'état de la rivière et du vieux port de la ville.",
    "de": "Der Ausschuss hat seinen Jahresbericht über den Zustand des Flusses und des alten Hafens veröffentlicht.",
    "ru": "Комитет опубликовал ежегодный доклад о состоянии реки и старой гавани города.",
    "es": "El comité publicó su informe anual sobre el estado del río y del viejo puerto de la ciudad.",
}


def test_model_loads_once():
    assert load_model() is load_model()


def test_identify_labels_and_scores():
    langs, scores = identify(list(SAMPLES.values()) + ["", None, "line one\nline two of english text here"])
    assert langs[:5] == list(SAMPLES)
    assert all(s > 0.5 for s in scores[:5])
    assert langs[5:7] == ["", ""] and scores[5] == 0.0
    assert langs[7] == "en"


def _table(texts, source):
    rows = [{"id": f"d{i}", "source": source, "text": t, "cluster_id": f"d{i}", "duplicates": 0,
             "lines_removed": 0} for i, t in enumerate(texts)]
    return pa.Table.from_pylist(rows, schema=DEDUP_SCHEMA)


def test_commoncrawl_keeps_english_only():
    r = identify_partition(_table(list(SAMPLES.values()), "commoncrawl"), "commoncrawl", LID_SCHEMA)
    assert r.kept.column("id").to_pylist() == ["d0"]
    assert r.kept.column("lid_lang").to_pylist() == ["en"]
    assert set(r.dropped.column("reason").to_pylist()) == {"language"}
    assert r.dropped.column("detail").to_pylist()[0].startswith("fr:")
    assert r.stats.balanced and r.stats.read == 5


@pytest.mark.parametrize("source,kept", [("wikipedia", 5), ("github", 5)])
def test_recipes_per_source(source, kept):
    texts = list(SAMPLES.values())
    if source == "wikipedia":  # Japanese is not one of the 20 languages
        texts = texts[:4] + ["東京は日本の首都であり、世界最大の都市圏の一つです。"]
        kept = 4
    r = identify_partition(_table(texts, source), source, LID_SCHEMA)
    assert r.kept.num_rows == kept and r.kept.num_rows + r.dropped.num_rows == 5


def test_empty_partition():
    r = identify_partition(_table([], "c4"), "c4", LID_SCHEMA)
    assert r.kept.num_rows == 0 and r.dropped.num_rows == 0 and r.stats.balanced
