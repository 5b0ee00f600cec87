"""`llama-pipeline`: user errors are one `error: ...` line and a non-zero status, never a traceback."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assets.cli import main, resolve_selection

ROOT = Path(__file__).resolve().parents[1]


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and "Traceback" not in "\n".join(err)
    return err[-1]


def test_a_typo_in_select_is_rejected_with_the_close_match(capsys, monkeypatch, tmp_path):
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    assert main(["demo", "--select", "tokenzer"]) == 2
    assert _error_line(capsys) == "error: --select 'tokenzer' matches no asset; did you mean tokenizer or token_shards?"
    assert main(["demo", "--select", "tokenizer,key:rlhf_v9"]) == 2
    assert "'key:rlhf_v9' matches no asset; did you mean" in _error_line(capsys)


def test_select_takes_names_and_dagster_selection_syntax():
    assert resolve_selection("tokenizer,token_shards") == {"tokenizer", "token_shards"}
    assert resolve_selection("group:tokens") == {"tokenizer", "token_shards", "mixture_report"}
    assert resolve_selection("key:rlhf_v*") == {f"rlhf_v{i}" for i in range(1, 6)}
    assert resolve_selection("+sft_model") == {"sft_model", "base_model", "tokenizer"}
    assert resolve_selection("key:tokenizer or key:base_model") == {"tokenizer", "base_model"}


def test_an_unknown_profile_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["config", "llama-8b"])
    assert e.value.code == 2
    line = _error_line(capsys)
    assert "argument PROFILE: invalid choice: 'llama-8b'" in line and "llama2-7b" in line


def test_a_missing_file_is_one_error_line(capsys, tmp_path):
    assert main(["convert", "--to", "hf", str(tmp_path / "nonexistent"), str(tmp_path / "x")]) == 1
    line = _error_line(capsys)
    assert line.startswith("error: ") and "nonexistent" in line and "--debug" in line
    with pytest.raises(FileNotFoundError):           # --debug (anywhere on the line): the real exception
        main(["convert", "--to", "hf", str(tmp_path / "nonexistent"), str(tmp_path / "x"), "--debug"])


@pytest.mark.parametrize("docs", ["-5", "0", "many"])
def test_numbers_are_validated(docs, capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["make-samples", "--docs", docs, "--out", str(tmp_path)])
    assert e.value.code == 2
    assert "argument --docs: " in _error_line(capsys)
    assert not any(tmp_path.iterdir())


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.startswith("llama-pipeline ")


def test_the_console_script_prints_no_traceback(tmp_path):
    """The real process: status 2 and one usage line on stderr for a bad profile."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "assets.cli", "config", "llama-8b"], capture_output=True, text=True,
                       env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("llama-pipeline config: error: argument PROFILE")


def _home(tmp_path, monkeypatch):
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("LLAMA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LLAMA_DUMPS_DIR", raising=False)      # the bundled samples


def test_a_wrong_partition_key_lists_the_valid_keys_in_one_line(capsys, monkeypatch, tmp_path):
    _home(tmp_path, monkeypatch)
    assert main(["register-dumps"]) == 0
    capsys.readouterr()
    assert main(["materialize", "--select", "raw_documents", "--partition", "wikipedia/2022"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: --partition 'wikipedia/2022' is not a partition of raw_documents; "
                             "did you mean wikipedia/20220701? valid keys: ")
    assert "commoncrawl/wget-2024-04" in err[0] and "books/gutenberg" in err[0] and "c4/en" in err[0]
    assert main(["materialize", "--select", "raw_documents"]) == 2           # a partitioned asset, no key
    assert "raw_documents is partitioned: add --partition KEY; valid keys: " in _error_line(capsys)
    assert main(["materialize", "--select", "tokenizer", "--partition", "c4/en"]) == 2
    assert _error_line(capsys) == "error: --partition 'c4/en' given, but tokenizer is not partitioned"
    assert main(["materialize", "--select", "raw_document", "--partition", "c4/en"]) == 2
    assert "did you mean raw_documents" in _error_line(capsys)


def test_materialize_runs_one_partition_as_a_backfill(capsys, monkeypatch, tmp_path):
    import dagster as dg

    _home(tmp_path, monkeypatch)
    assert main(["register-dumps"]) == 0
    assert main(["materialize", "--select", "raw_documents", "--partition", "wikipedia/20220701"]) == 0
    assert "Materialized raw_documents" in capsys.readouterr().out
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert len(runs) == 1 and runs[0].is_success and runs[0].tags["dagster/partition"] == "wikipedia/20220701"
        assert instance.get_backfill(runs[0].tags["dagster/backfill"]).title == "llama-pipeline materialize"


def test_a_partition_list_or_range_is_one_step_per_key(tmp_path):
    import dagster as dg

    from assets.definitions import defs
    from assets.materialize import PartitionError, check_partition

    instance = dg.DagsterInstance.ephemeral()
    steps = check_partition(defs, instance, {"preference_data"}, "2026-10-25...2026-11-08,2026-11-01")
    assert [pk for _, pk in steps] == ["2026-10-25", "2026-11-01", "2026-11-08"]
    with pytest.raises(PartitionError, match="a range is FIRST...LAST"):
        check_partition(defs, instance, {"preference_data"}, "2026-11-08...2026-10-25")


def test_the_reports_are_served_on_loopback(tmp_path):
    import threading
    import urllib.request

    from common.report_server import index_html, make_server

    (tmp_path / "reports" / "chat_eval").mkdir(parents=True)
    (tmp_path / "reports" / "chat_eval" / "index.html").write_text("<h1>chat_eval</h1>")
    (tmp_path / "secret.txt").write_text("not served")
    server = make_server(tmp_path / "reports", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host, port = server.server_address
        assert host == "127.0.0.1" and index_html(tmp_path / "reports") == ["chat_eval/index.html"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/chat_eval/index.html", timeout=10) as r:
            assert r.read() == b"<h1>chat_eval</h1>"
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/../secret.txt", timeout=10)
    finally:
        server.shutdown()
        server.server_close()


def test_reports_without_a_reports_folder_is_one_error_line(tmp_path, capsys):
    assert main(["reports", str(tmp_path)]) == 2
    assert _error_line(capsys) == f"error: {tmp_path / 'reports'}: no reports folder (the eval and curation assets write it)"
