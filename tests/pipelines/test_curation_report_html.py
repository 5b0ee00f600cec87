"""The curation HTML report: drops per rule and per source, kept per source, planted-truth recall."""
from pipelines.curation_report import per_rule, write_html

DROPS = [("c4", "deduplicated", "near_duplicate", 12, 16991), ("c4", "deduplicated", "exact_duplicate", 7, 11372),
         ("commoncrawl", "deduplicated", "exact_duplicate", 10, 11404),
         ("commoncrawl", "quality_filtered", "perplexity_tail", 38, 200280)]


def test_drops_per_rule_sum_over_sources():
    assert per_rule(DROPS) == [("deduplicated", "exact_duplicate", 17, 22776, "c4, commoncrawl"),
                               ("deduplicated", "near_duplicate", 12, 16991, "c4"),
                               ("quality_filtered", "perplexity_tail", 38, 200280, "commoncrawl")]


def test_the_page_has_every_table_and_the_truth(tmp_path):
    out = write_html(tmp_path / "reports" / "curation_report", DROPS, [("c4", 100, 81, 5000)],
                     [("deduplicated", "exact_duplicate", 200, 190, 0.95)], {"exact_recall": 1.0, "near_recall": 0.9},
                     b"\x89PNG fake")
    page = out.read_text()
    assert out.name == "index.html" and (out.parent / "drops.png").read_bytes() == b"\x89PNG fake"
    assert "<p>67 documents (240047 bytes) dropped by 3 rules over 2 sources.</p>" in page
    assert "<tr><td>deduplicated</td><td>exact_duplicate</td><td>17</td><td>22776</td><td>c4, commoncrawl</td></tr>" in page
    assert "<tr><td>c4</td><td>100</td><td>81</td><td>5000</td></tr>" in page
    assert "<tr><td>near_recall</td><td>0.9</td></tr>" in page and "<img src='drops.png'" in page
