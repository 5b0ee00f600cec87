"""fastText language ID: labels on planted languages, per-recipe filtering, accounting."""
import pyarrow as pa

from pipelines.dedup import SCHEMA as DEDUP_SCHEMA
from pipelines.langid import SCHEMA as LID_SCHEMA
from pipelines.langid import identify, identify_partition, load_model, mostly_capitals, normalize

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


def _table(texts, source, langs=None):
    rows = [{"id": f"d{i}", "source": source, "text": t, "cluster_id": f"d{i}", "duplicates": 0,
             "lines_removed": 0, "lang": langs[i] if langs else None} for i, t in enumerate(texts)]
    return pa.Table.from_pylist(rows, schema=DEDUP_SCHEMA)


def test_commoncrawl_keeps_english_only():
    r = identify_partition(_table(list(SAMPLES.values()), "commoncrawl"), "commoncrawl", LID_SCHEMA)
    assert r.kept.column("id").to_pylist() == ["d0"]
    assert r.kept.column("lid_lang").to_pylist() == ["en"]
    assert set(r.dropped.column("reason").to_pylist()) == {"language"}
    assert r.dropped.column("detail").to_pylist()[0].startswith("fr:")
    assert r.stats.balanced and r.stats.read == 5


def test_github_keeps_everything():
    r = identify_partition(_table(list(SAMPLES.values()), "github"), "github", LID_SCHEMA)
    assert r.kept.num_rows == 5 and r.dropped.num_rows == 0


def test_wikipedia_languages_by_dump_and_lid_only_reported():
    # the dump's language decides (issue 17): a French article in the dewiki dump is kept, the jawiki
    # article dropped whatever LID says, and LID's agreement with the dump language is reported
    texts = list(SAMPLES.values())[:4] + ["東京は日本の首都であり、世界最大の都市圏の一つです。"]
    r = identify_partition(_table(texts, "wikipedia", ["en", "de", "de", "ru", "ja"]), "wikipedia", LID_SCHEMA)
    assert r.kept.column("id").to_pylist() == ["d0", "d1", "d2", "d3"]
    assert r.dropped.column("reason").to_pylist() == ["dump_language"]
    assert r.dropped.column("detail").to_pylist()[0].startswith("ja:")
    assert r.info["lid_check"] == {"de": {"documents": 2, "agree": 1, "share": 0.5},
                                   "en": {"documents": 1, "agree": 1, "share": 1.0},
                                   "ja": {"documents": 1, "agree": 1, "share": 1.0},
                                   "ru": {"documents": 1, "agree": 1, "share": 1.0}}


NEWS = ("The city council approved the new budget on Tuesday after a long debate about the cost of repairing "
        "the old bridge, and the mayor said that work would begin in the spring if the weather allows it.")


def test_normalize_case_and_whitespace():
    assert normalize("A  b\n\n c\t") == "A  b   c\t" and normalize("A\u00a0b\u3000c\n") == "A b c "
    assert normalize(NEWS.upper()) == NEWS.lower()
    assert normalize(NEWS.title()) == NEWS.title().lower()
    assert normalize(NEWS) == NEWS  # ordinary text keeps its case
    german = "Der Ausschuss hat seinen Jahresbericht über den Zustand des Flusses und des alten Hafens veröffentlicht."
    assert not mostly_capitals(german) and normalize(german) == german
    assert normalize("") == "" and normalize(None) == ""
    assert mostly_capitals("ΑΘΗΝΑ ΕΙΝΑΙ ΠΟΛΗ") and not mostly_capitals("straße und STRASSE und mehr wörter hier")


def test_all_caps_english_is_kept():
    # lid.176 alone: upper-case English at ~0.2-0.5 (dropped); normalized it is English again
    model = load_model()
    (label,), (raw_score,) = model.predict(NEWS.upper(), k=1)
    assert not (label == "__label__en" and raw_score >= 0.5)
    texts = [NEWS.upper(), NEWS.title(), " ".join(w.upper() if i % 2 else w for i, w in enumerate(NEWS.split()))]
    langs, scores = identify(texts)
    assert langs == ["en"] * 3 and min(scores) > 0.9
    r = identify_partition(_table(texts, "commoncrawl"), "commoncrawl", LID_SCHEMA)
    assert r.kept.num_rows == 3


def test_empty_partition():
    r = identify_partition(_table([], "c4"), "c4", LID_SCHEMA)
    assert r.kept.num_rows == 0 and r.dropped.num_rows == 0 and r.stats.balanced
