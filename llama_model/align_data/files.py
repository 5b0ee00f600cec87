"""User alignment files in: JSONL, Parquet, or a `datasets` folder (`save_to_disk`); our JSONL out.

    load_sft("sft.jsonl")                    # -> [{"system"?, "turns"}]       (formats.parse_sft per row)
    load_preferences("prefs.parquet")        # -> [{"system"?, "prompt", "chosen", "rejected", "rating", "safety"}]
    load_preferences("hh_saved/")            # Dataset.save_to_disk folder; a DatasetDict folder uses its train split

Every row is checked and the first bad one stops the load with a DataError (a ValueError) naming the file
and where in it: `file:LINE` for JSONL (1-based), `file: row N` for Parquet and datasets folders (0-based,
as `dataset[N]`). Bytes that are not UTF-8, invalid JSON, duplicate keys in an object, and an empty file
are errors too: nothing is skipped silently. Arrow files are read with pyarrow, so `datasets` is not needed.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterable, Iterator

from llama_model.align_data.formats import (
    FormatError,
    parse_preference,
    parse_sft,
    preference_row,
    sample_from_row,
    sample_row,
    sft_row,
)

PARQUET_BATCH = 1024            # rows decoded at a time


class DataError(ValueError):
    """A user alignment file that cannot be used; str() is '<file>:<line>: <what>' or '<file>: row N: <what>'."""


def _reject_duplicates(pairs: list[tuple]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        keys = [k for k, _ in pairs]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        raise FormatError(f"duplicate key {dup[0]!r} in one object (which one counts would be a guess)")
    return out


def _jsonl_rows(path: Path) -> Iterator[tuple[str, object]]:
    with open(path, "rb") as f:
        for i, raw in enumerate(f, 1):
            where = f"{path}:{i}"
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(f"{where}: not UTF-8 text (byte 0x{raw[e.start]:02x} at byte {e.start + 1} of the "
                                f"line): re-encode the file as UTF-8") from None
            if i == 1:
                text = text.removeprefix("\ufeff")          # a byte-order mark some editors write
            if not text.strip():
                continue
            try:
                row = json.loads(text, object_pairs_hook=_reject_duplicates)
            except json.JSONDecodeError as e:
                raise DataError(f"{where}: not valid JSON ({e.msg} at column {e.colno}); one JSON object per line") from None
            except FormatError as e:
                raise DataError(f"{where}: {e}") from None
            yield where, row


def _arrow_rows(batches: Iterable, name: str, start: int = 0) -> Iterator[tuple[str, object]]:
    i = start
    for batch in batches:
        for row in batch.to_pylist():
            yield f"{name}: row {i}", row
            i += 1


def _parquet_rows(path: Path) -> Iterator[tuple[str, object]]:
    import pyarrow as pa
    import pyarrow.parquet as pq
    try:
        f = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{path}: not a readable Parquet file ({e})") from None
    yield from _arrow_rows(f.iter_batches(batch_size=PARQUET_BATCH), str(path))


def _saved_dataset_rows(folder: Path) -> Iterator[tuple[str, object]]:
    """A folder written by Dataset.save_to_disk: state.json lists Arrow stream files, in row order."""
    import pyarrow as pa
    if (folder / "dataset_dict.json").exists():                   # DatasetDict.save_to_disk
        splits = json.loads((folder / "dataset_dict.json").read_text(encoding="utf-8")).get("splits", [])
        if "train" not in splits and len(splits) != 1:
            raise DataError(f"{folder}: a DatasetDict with splits {splits} and no 'train': give the split's folder")
        yield from _saved_dataset_rows(folder / ("train" if "train" in splits else splits[0]))
        return
    if not (folder / "state.json").is_file():
        raise DataError(f"{folder}: not a datasets folder written by save_to_disk (no state.json); give a .jsonl or "
                        f".parquet file, or such a folder")
    try:
        files = [d["filename"] for d in json.loads((folder / "state.json").read_text(encoding="utf-8"))["_data_files"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{folder}/state.json: not the state file save_to_disk writes ({e!r})") from None
    n = 0
    for name in files:
        shard = folder / name
        if Path(name).name != name or not shard.is_file():       # state.json names files inside the folder only
            raise DataError(f"{folder}: state.json names {name!r}, which is not a file in the folder")
        try:
            with pa.memory_map(str(shard)) as source:
                for where, row in _arrow_rows(pa.ipc.open_stream(source), f"{folder}", n):
                    n += 1
                    yield f"{where} (in {name})", row
        except pa.ArrowException as e:
            raise DataError(f"{shard}: not a readable Arrow file ({e})") from None


def rows(path) -> Iterator[tuple[str, object]]:
    """(where, row) for every row of a JSONL file, a Parquet file or a datasets folder."""
    p = Path(path)
    if p.is_dir():
        return _saved_dataset_rows(p)
    if not p.is_file():
        raise DataError(f"{p}: no such file or folder")
    if p.suffix == ".parquet":
        return _parquet_rows(p)
    if p.suffix == ".arrow":
        raise DataError(f"{p}: give the folder written by save_to_disk, not one of its .arrow files")
    return _jsonl_rows(p)


def _load(path, parse: Callable[[object], dict]) -> list[dict]:
    out = []
    for where, row in rows(path):
        try:
            out.append(parse(row))
        except FormatError as e:
            raise DataError(f"{where}: {e}") from None
    if not out:
        raise DataError(f"{path}: no records")
    return out


def load_sft(path) -> list[dict]:
    """SFT dialogues from a file or datasets folder, checked (formats.parse_sft)."""
    return _load(path, parse_sft)


def load_preferences(path) -> list[dict]:
    """Comparisons from a file or datasets folder, checked (formats.parse_preference)."""
    return _load(path, parse_preference)


def to_jsonl(records: Iterable[dict]) -> str:
    """One JSON object per line, keys sorted: the same records give the same bytes."""
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)


def read_samples(path) -> list[dict]:
    """Rejection-sampling records written as formats.sample_row lines (our own file: not re-validated)."""
    p = Path(path)
    return [sample_from_row(json.loads(line)) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


def sft_to_jsonl(dialogues: Iterable[dict]) -> str:
    """Dialogues as trl SFT rows ({"messages": [...]}), one per line."""
    return to_jsonl(sft_row(d) for d in dialogues)


def preferences_to_jsonl(pairs: Iterable[dict]) -> str:
    """Comparisons as trl conversational preference rows (+ rating, safety), one per line."""
    return to_jsonl(preference_row(p) for p in pairs)


def samples_to_jsonl(records: Iterable[dict]) -> str:
    """Rejection-sampling records as SFT rows with their key and rewards, one per line."""
    return to_jsonl(sample_row(r) for r in records)
