"""Evaluation without Dagster: validation perplexity, zero-shot multiple choice, win rates, HTML reports.

    perplexity.py       token-weighted validation perplexity per source
    multiple_choice.py  benchmark readers (HellaSwag, PIQA, ARC, BoolQ, MMLU JSONL) and log-likelihood scoring
    winrate.py          win rate of version A vs B, RM accuracy per rating bucket, safety / adherence rates
    report.py           HTML pages with matplotlib plots, markdown tables for the UI
    suite.py            the three reports the eval assets write (base model, reward models, chat versions)
    checks.py           the eval assets' checks, as functions of a report's summary.json
    tasks/              small bundled benchmark files in the public layouts (see tasks/README.md)
"""
