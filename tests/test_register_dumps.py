"""`llama-pipeline register-dumps`: a bad dump folder name is reported and every other dump still
registered; keys whose folder is gone are reported, and removed with --prune; the demo skips them."""
import dagster as dg

from assets.cli import main


def _home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("LLAMA_DUMPS_DIR", str(tmp_path / "dumps"))
    for name in ("good", "bad name", "x" * 120, "émile", "other"):
        (tmp_path / "dumps" / "books" / name).mkdir(parents=True)


def test_a_bad_folder_name_does_not_stop_the_others(tmp_path, monkeypatch, capsys):
    _home(tmp_path, monkeypatch)
    assert main(["register-dumps"]) == 1
    out, err = capsys.readouterr()
    assert out.split() == ["books/good", "books/other"]
    assert "'bad name' holds characters" in err and "longer than 100 characters" in err and "émile" in err
    with dg.DagsterInstance.get() as instance:
        assert sorted(instance.get_dynamic_partitions("dumps")) == ["books/good", "books/other"]


def test_gone_keys_are_reported_and_pruned(tmp_path, monkeypatch, capsys):
    _home(tmp_path, monkeypatch)
    main(["register-dumps"])
    (tmp_path / "dumps" / "books" / "other").rmdir()
    capsys.readouterr()
    main(["register-dumps"])
    assert "warning: books/other is registered but its dump folder is gone" in capsys.readouterr().err
    with dg.DagsterInstance.get() as instance:
        assert sorted(instance.get_dynamic_partitions("dumps")) == ["books/good", "books/other"]
    main(["register-dumps", "--prune"])
    assert "removed: books/other" in capsys.readouterr().err
    with dg.DagsterInstance.get() as instance:
        assert instance.get_dynamic_partitions("dumps") == ["books/good"]


def test_the_demo_skips_a_gone_key(tmp_path, monkeypatch):
    from assets import ingest
    from assets.demo import run_all
    from resources import build_resources

    _home(tmp_path, monkeypatch)
    monkeypatch.setenv("LLAMA_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "dumps" / "books" / "good" / "pg1.txt").write_text("A short book.\n" * 20)
    (tmp_path / "dumps" / "books" / "other").rmdir()
    lines = []
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions("dumps", ["books/gone"])
        defs = dg.Definitions(assets=ingest.ASSETS, asset_checks=ingest.CHECKS, resources=build_resources(),
                              executor=dg.in_process_executor)       # this test's dumps, not the import-time ones
        summary = run_all(defs, instance=instance, selection={"raw_documents"}, log=lines.append)
    assert summary["steps"] == 1                      # books/good, not books/gone
    assert any("books/gone is registered but its dump folder is gone: skipped" in x for x in lines)
