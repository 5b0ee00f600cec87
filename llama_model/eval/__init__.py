"""Evaluation without Dagster: validation perplexity, zero-shot multiple choice, win rates, HTML reports.

    perplexity.py       token-weighted validation perplexity per source
    multiple_choice.py  benchmark readers (HellaSwag, PIQA, ARC, BoolQ, MMLU JSONL) and log-likelihood scoring
    winrate.py          win rate of version A vs B, RM accuracy per rating bucket, safety / adherence rates
    chat.py             chat_eval's loop: generate with each version, judge with RMs and program judges
    report.py           HTML pages with matplotlib plots, markdown tables for the UI
    tasks/              small bundled benchmark files in the public layouts
"""
