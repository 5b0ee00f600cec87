"""The curation assets share one Dagster concurrency pool, so an instance limit (`concurrency: pools:`)
bounds how many partitions of them run at once across runs."""
from assets.curate import deduplicated, language_identified, quality_filtered
from assets.ingest import raw_documents


def test_curation_assets_are_in_the_curation_pool():
    assert [a.op.pool for a in (raw_documents, deduplicated, language_identified, quality_filtered)] == ["curation"] * 4
