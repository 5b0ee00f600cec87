"""A profile as a TOML file: written by `config --toml`, loaded back equal by --config / LLAMA_CONFIG, with
`section.field=value` overrides checked against the profile's fields and file:line errors."""
import dataclasses
import json

import pytest

from assets.cli import main
from llama_model.config_file import (
    ConfigError,
    load_config,
    load_text,
    to_toml,
    with_overrides,
)
from llama_model.configs import PROFILES, get_profile


@pytest.mark.parametrize("name", list(PROFILES))
def test_every_profile_round_trips_exactly(name, tmp_path):
    f = tmp_path / "run.toml"
    f.write_text(to_toml(PROFILES[name]))
    assert load_config(f, PROFILES) == PROFILES[name]


def test_overrides_are_typed_and_checked():
    tiny = PROFILES["tiny"]
    p = with_overrides(tiny, ["training.lr=1e-4", "train.betas=[0.9, 0.99]", "model.n_kv_heads=2",
                              "align.rm_margin=large", "align.sft_packing=false", "data.reader_limits={record_bytes = 10}"])
    assert p.train.lr == 1e-4 and p.train.betas == (0.9, 0.99) and p.model.n_kv_heads == 2
    assert p.align.rm_margin == "large" and p.align.sft_packing is False and p.data.reader_limits == {"record_bytes": 10}
    assert dataclasses.replace(p, train=tiny.train, model=tiny.model, align=tiny.align, data=tiny.data) == tiny
    assert load_text(to_toml(p), PROFILES) == p                       # an overridden profile round-trips too
    assert with_overrides(PROFILES["llama-7b"], ["train.lr=1e-4"]).paper is False   # no longer the paper's
    with pytest.raises(ConfigError, match=r"--set: \[train\] has no field 'lrr'; did you mean lr\?"):
        with_overrides(tiny, ["train.lrr=1e-4"])
    with pytest.raises(ConfigError, match=r"--set: train.warmup_steps expects a whole number, got 1.5"):
        with_overrides(tiny, ["train.warmup_steps=1.5"])
    with pytest.raises(ConfigError, match=r"unknown section \[trian\]"):
        with_overrides(tiny, ["trian.lr=1"])
    with pytest.raises(ConfigError, match=r"expected SECTION.FIELD=VALUE"):
        with_overrides(tiny, ["lr=1"])


def test_file_errors_name_the_line(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('profile = "tiny"\n\n[train]\nlr = 0.001\nwarmup = 10\n')
    with pytest.raises(ConfigError, match=rf"^{f}:5: \[train\] has no field 'warmup'; did you mean warmup_steps\?"):
        load_config(f, PROFILES)
    f.write_text('profile = "tiny"\n[model]\ndim = "wide"\n')
    with pytest.raises(ConfigError, match=rf"^{f}:3: model.dim expects a whole number, got 'wide'"):
        load_config(f, PROFILES)
    f.write_text('profile = "llama-8b"\n')
    with pytest.raises(ConfigError, match=rf"^{f}:1: profile = 'llama-8b'; it must name one of: tiny"):
        load_config(f, PROFILES)


def test_cli_toml_then_config_and_llama_config(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LLAMA_CONFIG", raising=False)
    monkeypatch.delenv("LLAMA_PROFILE", raising=False)
    assert main(["config", "small", "--set", "train.lr=1e-4", "--toml"]) == 0
    f = tmp_path / "run.toml"
    f.write_text(capsys.readouterr().out)
    assert main(["config", "--config", str(f), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["profile"] == "small" and info["train"]["lr"] == 1e-4
    expected = with_overrides(PROFILES["small"], ["train.lr=1e-4"])
    monkeypatch.setenv("LLAMA_CONFIG", str(f))
    assert get_profile() == expected and get_profile("tiny") == expected     # the active profile is the file's
    assert get_profile("llama-7b") == PROFILES["llama-7b"]                   # a named other profile is not
    assert main(["config", "--config", str(tmp_path / "none.toml")]) == 2
    assert "none.toml" in capsys.readouterr().err

