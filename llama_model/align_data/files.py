"""User alignment files in: JSONL, Parquet, or a `datasets` folder (`save_to_disk`); our JSONL out.

    load_sft("sft.jsonl")                    # -> [{"system"?, "turns"}]       (formats.parse_sft per row)
    load_preferences("prefs.parquet")        # -> [{"system"?, "prompt", "chosen", "rejected", "rating", "safety"}]
    load_preferences("hh_saved/")            # Dataset.save_to_disk folder; a DatasetDict folder uses its train split

Every row is checked and the first bad one stops the load with a DataError (a ValueError) naming the file
and where in it: `file:LINE` for JSONL (1-based), `file: row N` for Parquet and datasets folders (0-based,
as `dataset[N]`). Bytes that are not UTF-8, invalid JSON, duplicate keys in an object, lone surrogate
escapes ("\\ud800"), lines longer, nesting deeper or message lists longer than the profile's caps (`Caps`:
AlignArgs.data_line_bytes, data_turns, data_depth), split names that leave a DatasetDict folder and an empty
file are errors too: nothing is skipped silently, and each is found in time linear in the line. Arrow files are read with pyarrow, so `datasets` is not needed.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
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
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"')       # a JSON string literal (possessive: no backtracking)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")   # \ud800-\udfff: valid only as a high+low pair


class DataError(ValueError):
    """A user alignment file that cannot be used; str() is '<file>:<line>: <what>' or '<file>: row N: <what>'."""


@dataclass(frozen=True)
class Caps:
    """Bounds on what one user row may hold (AlignArgs.data_line_bytes / data_turns / data_depth): a row
    over them is an error naming it, found in time linear in the line, before anything is built from it."""

    line_bytes: int = 16 * 2**20
    turns: int = 1000
    depth: int = 32

    @staticmethod
    def of(align) -> "Caps":
        """The caps of a profile's AlignArgs (None: the defaults)."""
        if align is None:
            return Caps()
        return Caps(align.data_line_bytes, align.data_turns, align.data_depth)


def _reject_duplicates(pairs: list[tuple]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        for k, _ in pairs:                       # linear: the first key seen twice
            if k in seen:
                raise FormatError(f"duplicate key {k!r} in one object (which one counts would be a guess)")
            seen.add(k)
    return out


def _shape(raw: bytes) -> tuple[int, int]:
    """(deepest nesting of arrays and objects, number of objects) of one JSON text, in linear time without
    recursion: strings are blanked by a regular expression, the brackets counted with numpy."""
    import numpy as np

    skeleton = np.frombuffer(_STRING.sub(b'""', raw), dtype=np.uint8)
    opens = np.isin(skeleton, (ord("["), ord("{")))
    step = opens.astype(np.int64) - np.isin(skeleton, (ord("]"), ord("}"))).astype(np.int64)
    return int(np.cumsum(step).max(initial=0)), int(np.count_nonzero(skeleton == ord("{")))


def _lone_surrogate(x, depth: int = 0) -> str | None:
    """The first string (or key) of a parsed row holding a lone UTF-16 surrogate (an escape such as
    "\\ud800" without its pair: no UTF-8 encoding exists, SentencePiece fails on it later)."""
    if isinstance(x, str):
        try:
            x.encode("utf-8")
        except UnicodeEncodeError:
            return x
        return None
    items = x.items() if isinstance(x, dict) else enumerate(x) if isinstance(x, list) else ()
    for k, v in items:
        bad = (_lone_surrogate(k) if isinstance(k, str) else None) or _lone_surrogate(v, depth + 1)
        if bad is not None:
            return bad
    return None


def _parse_line(raw: bytes, caps: Caps):
    """One JSONL line (bytes, newline included) -> its value; FormatError on anything we refuse."""
    if raw.count(b"[") + raw.count(b"{") > min(caps.depth, caps.turns):
        depth, objects = _shape(raw)
        if depth > caps.depth:
            raise FormatError(f"nested more than {caps.depth} levels deep (the profile's align.data_depth)")
        if objects > 3 * caps.turns + 8:      # prompt, chosen and rejected lists of at most caps.turns messages
            raise FormatError(f"holds {objects} JSON objects, more than rows of {caps.turns} turns can (the "
                              "profile's align.data_turns)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FormatError(f"not UTF-8 text (byte 0x{raw[e.start]:02x} at byte {e.start + 1} of the line): "
                          "re-encode the file as UTF-8") from None
    if not text.strip():
        return None
    try:
        row = json.loads(text, object_pairs_hook=_reject_duplicates)
    except json.JSONDecodeError as e:
        raise FormatError(f"not valid JSON ({e.msg} at column {e.colno}); one JSON object per line") from None
    except RecursionError:      # a nesting the depth check missed cannot crash the caller
        raise FormatError(f"nested more than {caps.depth} levels deep (the profile's align.data_depth)") from None
    if _SURROGATE_ESCAPE.search(raw) and (bad := _lone_surrogate(row)) is not None:
        raise FormatError(f"a lone surrogate escape in {bad[:40]!r}: not text that UTF-8 can hold")
    return row


def _jsonl_rows(path: Path, caps: Caps) -> Iterator[tuple[str, object]]:
    with open(path, "rb") as f:
        i = 0
        while raw := f.readline(caps.line_bytes + 1):
            i += 1
            where = f"{path}:{i}"
            if len(raw) > caps.line_bytes:
                raise DataError(f"{where}: line longer than {caps.line_bytes} bytes (the profile's "
                                "align.data_line_bytes)")
            if i == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")          # a byte-order mark some editors write
            try:
                row = _parse_line(raw, caps)
            except FormatError as e:
                raise DataError(f"{where}: {e}") from None
            if row is not None:
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
        try:
            splits = json.loads((folder / "dataset_dict.json").read_text(encoding="utf-8")).get("splits", [])
        except (OSError, ValueError, AttributeError) as e:
            raise DataError(f"{folder}/dataset_dict.json: not the file save_to_disk writes ({e})") from None
        for name in splits if isinstance(splits, list) else [splits]:
            # a split is a folder inside this one: "../victim" would load another dataset's rows
            if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
                raise DataError(f"{folder}/dataset_dict.json: split {name!r} is not a folder name inside {folder}")
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


def rows(path, caps: Caps | None = None) -> Iterator[tuple[str, object]]:
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
    return _jsonl_rows(p, caps or Caps())


def _check_turns(row, caps: Caps) -> None:
    """A row's message lists (messages, prompt, chosen, rejected, turns) hold at most caps.turns items."""
    if isinstance(row, dict):
        for key, value in row.items():
            n = len(value) if isinstance(value, (list, tuple)) else (
                value.count("\n\nHuman:") + value.count("\n\nAssistant:") if isinstance(value, str) else 0)
            if n > caps.turns:             # a list of messages, or an Anthropic HH transcript
                raise FormatError(f"{key!r} holds {n} turns, more than {caps.turns} (the profile's "
                                  "align.data_turns)")


def _load(path, parse: Callable[[object], dict], caps: Caps | None) -> list[dict]:
    caps = caps or Caps()
    out = []
    for where, row in rows(path, caps):
        try:
            _check_turns(row, caps)
            out.append(parse(row))
        except FormatError as e:
            raise DataError(f"{where}: {e}") from None
    if not out:
        raise DataError(f"{path}: no records")
    return out


def load_sft(path, caps: Caps | None = None) -> list[dict]:
    """SFT dialogues from a file or datasets folder, checked (formats.parse_sft); caps: Caps.of(profile.align)."""
    return _load(path, parse_sft, caps)


def load_preferences(path, caps: Caps | None = None) -> list[dict]:
    """Comparisons from a file or datasets folder, checked (formats.parse_preference); caps: see load_sft."""
    return _load(path, parse_preference, caps)


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
