"""Alignment data: the formats users bring (trl / datasets conventions), the files we read and write, and
the bundled program-judgeable tasks with their judges and rated comparisons.

| module | what |
|---|---|
| formats.py | one row -> our dialogue / comparison record, typed checks; our records -> trl rows |
| files.py | JSONL, Parquet and `save_to_disk` folders in (errors name file and line or row); JSONL out |
| tasks.py | the bundled tasks (seeded generation, held-out split), SFT dialogues |
| judge.py | the program judge and the safety judge |
| pairs.py | the program annotator: rated comparisons with safety labels |

    from llama_model import align_data
    pairs = align_data.load_preferences("prefs.parquet")
    align_data.judge(align_data.eval_tasks()[0], "The answer is 7.")
"""
from llama_model.align_data.files import (
                                          Caps,
                                          DataError,
                                          load_preferences,
                                          load_sft,
                                          preferences_to_jsonl,
                                          read_samples,
                                          rows,
                                          samples_to_jsonl,
                                          sft_to_jsonl,
                                          to_jsonl,
)
from llama_model.align_data.formats import FormatError, parse_preference, parse_sft, preference_row, sample_row, sft_row
from llama_model.align_data.judge import follows_instruction, is_false_refusal, is_refusal, is_safe, judge, quality
from llama_model.align_data.pairs import PREFERENCE_SHAPES, preference_pairs, rate_pair, rating_of_gap
from llama_model.align_data.tasks import (
                                          BORDERLINE,
                                          DIGITS,
                                          EVAL_SHAPES,
                                          FRENCH_NUMBERS,
                                          HELD_OUT_PERCENT,
                                          INSTRUCTIONS,
                                          OPEN_CATEGORIES,
                                          RATING_NAMES,
                                          REFUSAL,
                                          SAFETY_TAU,
                                          SFT_SHAPES,
                                          SINGLE_KINDS,
                                          STYLE_KINDS,
                                          TEMPLATES,
                                          UNSAFE_TEMPLATES,
                                          UNSAFE_VERBS,
                                          WORDS,
                                          Task,
                                          borderline_tasks,
                                          eval_tasks,
                                          is_borderline_prompt,
                                          is_held_out,
                                          open_tasks,
                                          reference_answer,
                                          sample_task,
                                          sample_tasks,
                                          sft_dialogues,
                                          tasks_from_jsonl,
                                          tasks_to_jsonl,
                                          true_value,
)

__all__ = [
    "Caps", "DataError", "load_preferences", "load_sft", "preferences_to_jsonl", "read_samples", "rows", "samples_to_jsonl",
    "sft_to_jsonl", "to_jsonl", "FormatError", "parse_preference", "parse_sft", "preference_row", "sample_row",
    "sft_row", "follows_instruction", "is_false_refusal", "is_refusal", "is_safe", "judge", "quality", "PREFERENCE_SHAPES",
    "preference_pairs", "rate_pair", "rating_of_gap", "BORDERLINE", "borderline_tasks", "is_borderline_prompt", "open_tasks", "OPEN_CATEGORIES", "DIGITS", "EVAL_SHAPES", "FRENCH_NUMBERS",
    "HELD_OUT_PERCENT", "INSTRUCTIONS", "RATING_NAMES", "REFUSAL", "SAFETY_TAU", "SFT_SHAPES", "SINGLE_KINDS",
    "STYLE_KINDS", "TEMPLATES", "UNSAFE_TEMPLATES", "UNSAFE_VERBS", "WORDS", "Task", "eval_tasks", "is_held_out",
    "reference_answer", "sample_task", "sample_tasks", "sft_dialogues", "tasks_from_jsonl", "tasks_to_jsonl",
    "true_value",
]
