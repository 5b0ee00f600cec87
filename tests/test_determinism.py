"""The demo is deterministic on a given machine: re-materializing the tokens stage (tiny profile, the same
curated input) rewrites byte-identical tokenizer, token shards and mixture report."""
import hashlib

import dagster as dg
from tokens_corpus import write_corpus

from assets import tokens
from assets.partitions import dump_partitions
from resources import ArtifactStorage, ProfileResource

CURATED = dg.AssetSpec("quality_filtered", partitions_def=dump_partitions)
OUTPUTS = ("tokenizer", "token_shards", "mixture_report")


def _digests(root) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for name in OUTPUTS for p in sorted((root / name).rglob("*")) if p.is_file()}


def test_rematerializing_the_tokens_stage_gives_identical_bytes(data_dir):
    write_corpus(data_dir, 20, scale=2)
    instance = dg.DagsterInstance.ephemeral()
    runs = []
    for _ in range(2):
        result = dg.materialize([CURATED, *tokens.ASSETS], selection=[a.key for a in tokens.ASSETS],
                                resources={"storage": ArtifactStorage(root=str(data_dir)),
                                           "profile": ProfileResource(name="tiny")},
                                instance=instance, raise_on_error=True)
        assert result.success
        runs.append(_digests(data_dir))
    first, second = runs
    assert {"tokenizer/tokenizer.model", "token_shards/manifest.parquet", "mixture_report/mixture.png"} <= set(first)
    assert any(k.startswith("token_shards/train/") for k in first)
    assert second == first
