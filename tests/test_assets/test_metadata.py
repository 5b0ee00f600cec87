"""assets/metadata.py: Dagster's standard metadata entries, built the same way by every stage."""
import math

import dagster as dg

from assets import metadata as md


def test_table_gives_row_count_and_column_schema():
    rows = [{"source": "c4", "tokens": 10, "share": 0.123456789, "note": None},
            {"source": "books", "tokens": 5, "share": 0.5, "note": "x"}]
    out = md.table(rows)
    assert out["dagster/row_count"].value == 2
    cols = {c.name: c.type for c in out["dagster/column_schema"].columns}
    assert cols == {"source": "string", "tokens": "int", "share": "float", "note": "string"}
    value = md.table_value(rows)
    assert isinstance(value, dg.TableMetadataValue)
    assert value.records[0].data["share"] == 0.1235 and value.records[0].data["note"] is None


def test_rounded_keeps_metadata_values_and_drops_nan():
    text = dg.MetadataValue.md("| a |")
    out = md.rounded({"loss": 265.04191333638585, "nan": float("nan"), "n": 3, "text": text,
                      "nested": {"x": [1.234567891]}})
    assert out == {"loss": 265.0419, "nan": None, "n": 3, "text": text, "nested": {"x": [1.2346]}}
    assert not any(isinstance(v, float) and math.isnan(v) for v in out.values())


def test_report_is_a_path_and_a_url_the_ui_opens(tmp_path, monkeypatch):
    monkeypatch.delenv("LLAMA_REPORTS_PORT", raising=False)
    out = md.report(tmp_path / "index.html")                 # outside a reports/ folder: a file:// URL
    assert out["report"].value == str((tmp_path / "index.html").resolve())
    assert out["report_url"].value == (tmp_path / "index.html").resolve().as_uri()
    out = md.report(tmp_path / "data" / "reports" / "chat_eval" / "index.html")   # served by `llama-pipeline reports`
    assert out["report_url"].value == "http://127.0.0.1:8787/chat_eval/index.html"
    monkeypatch.setenv("LLAMA_REPORTS_PORT", "9001")
    assert md.report(tmp_path / "reports" / "x" / "index.html")["report_url"].value == "http://127.0.0.1:9001/x/index.html"
