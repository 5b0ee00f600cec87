"""Step 1 of the dedup stage: one task per run of input files (Plan.tasks) turns their documents into
keys, never copying text.

Per document with text (null and blank texts are decided in step 3):
- `docs/docs-<task>.parquet`: global index, id, MinHash signature, the number of unique shingles and
  of sampled shingles (books);
- `scatter/<kind>-<task>.parquet`, rows sorted by key bucket (one row group each; one file per task
  and kind, whatever the bucket count or the files in the task): `exact-<task>` (128-bit SHA-1 prefix
  of the text, or of the text without its licence header for GitHub, plus there the rank columns of
  survivor.py), `bands-<task>` (band, key, doc), `lines-<task>` (CCNet line hash, doc, line number),
  `sample-<task>` (sampled shingle hash, doc) for books.
A task reads its files in batches of ROWS documents; memory is bounded by the batch and the task's keys
(the task sizes of Plan.tasks bound those).
"""
from __future__ import annotations

import hashlib
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.dedup.line import line_hashes
from pipelines.dedup.minhash import band_keys, signatures_from_hashes
from pipelines.dedup.plan import Plan, valid_batches, write_buckets, write_parquet
from pipelines.dedup.shingle import shingle_hashes
from pipelines.dedup.survivor import rank_columns

ROWS = 5_000


def exact_text(text: str, clean_code: bool) -> str:
    """The text exact dedup compares: GitHub files without their licence header (issue 17: the paper
    dedups cleaned files); a file that is only a header is compared whole."""
    if clean_code:
        from pipelines.quality.heuristics import strip_header

        cleaned = strip_header(text)
        if cleaned.strip():
            return cleaned
    return text


def _content_hash(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).digest()[:16]


class Scatter:
    """scatter(files of a task, task index, bucket dirs) for Engine.bucket_join; returns counts."""

    def __init__(self, plan: Plan):
        self.plan = plan

    def __call__(self, files: range, task: int, dirs: list[str]) -> dict:
        t0 = time.perf_counter()
        plan = self.plan
        parts: dict[str, list[pa.Table]] = {k: [] for k in ("docs", "exact", "bands", "lines", "sample")}
        rows, ok_rows = 0, 0
        repaired: list[int] = []
        for index in files:
            doc0, done = plan.offsets[index], 0
            for batch in valid_batches(plan.files[index], ROWS, ["id", "text"], repaired):
                n = batch.num_rows
                texts = batch.column("text")
                ok = np.flatnonzero(has_text(texts))
                done += n
                if len(ok) == 0:
                    continue
                ok_rows += len(ok)
                sel = pa.array(ok)
                self._batch(doc0 + done - n + ok, batch.column("id").take(sel), texts.take(sel), parts)
            if done != plan.offsets[index + 1] - doc0:  # document indices would overlap the next file's
                raise ValueError(f"{plan.files[index]} holds {done} documents, its manifest entry "
                                 f"{plan.offsets[index + 1] - doc0}: rematerialize its partition")
            rows += done
        nbands = sum(t.num_rows for t in parts["bands"])
        nlines = sum(t.num_rows for t in parts["lines"])
        for name, tables in parts.items():
            if not tables:
                continue
            table = pa.concat_tables(tables)
            if name == "docs":
                write_parquet(table, plan.path("docs", f"docs-{task:05d}.parquet"))
            else:
                key = table.column(0).to_numpy()
                write_buckets(table, key, len(dirs), plan.path("scatter", f"{name}-{task:05d}.parquet"))
        return {"files": len(files), "rows": rows, "with_text": ok_rows, "utf8_repaired_texts": sum(repaired),
                "band_rows": nbands, "line_rows": nlines, "seconds": round(time.perf_counter() - t0, 3)}

    def _batch(self, docs: np.ndarray, ids: pa.Array, texts: pa.Array, parts: dict) -> None:
        plan = self.plan
        cols = {"doc": pa.array(docs.astype(np.int64)), "id": ids.cast(pa.string())}
        # Byte-identical texts tie on the rank columns, so exact groups need them only when the hash is
        # of cleaned text (GitHub); MinHash and book clusters fetch them for their members (verify.py).
        rank = rank_columns(texts) if plan.clean_code else \
            {k: np.zeros(len(docs), np.int64) for k in ("lower_pct", "boiler", "words")}
        ranked = {k: pa.array(v.astype(np.int64)) for k, v in rank.items()}
        pylist = texts.to_pylist() if plan.exact or plan.line else []
        if plan.exact:
            raw = b"".join(_content_hash(exact_text(t, plan.clean_code)) for t in pylist)
            h = np.frombuffer(raw, dtype="<i8").reshape(-1, 2)
            parts["exact"].append(pa.table({"h1": h[:, 0], "h2": h[:, 1], **cols, **ranked}))
        extra = {}
        if plan.minhash is not None:
            p = plan.minhash
            hashes, offsets = shingle_hashes(texts, p.ngram)
            sig = signatures_from_hashes(hashes, offsets, p.num_perm, p.seed)
            has = np.flatnonzero(np.diff(offsets) > 0)
            keys = band_keys(sig[has], p.bands, p.rows)
            parts["bands"].append(pa.table({
                "bkey": keys.reshape(-1).view(np.int64),
                "band": np.tile(np.arange(p.bands, dtype=np.int16), len(has)),
                "doc": np.repeat(docs[has], p.bands).astype(np.int64)}))
            extra["sig"] = pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(4 * p.num_perm), len(docs), [None, pa.py_buffer(np.ascontiguousarray(sig).tobytes())])
        if plan.books is not None:
            b = plan.books
            hashes, offsets = shingle_hashes(texts, b.ngram)
            n_sh, n_sample, sample_h, sample_d = [], [], [], []
            for d in range(len(docs)):
                u = np.unique(hashes[offsets[d]:offsets[d + 1]])
                s = u[u % np.uint64(b.sample) == 0]
                n_sh.append(len(u))
                n_sample.append(len(s))
                sample_h.append(s.view(np.int64))
                sample_d.append(np.full(len(s), docs[d], dtype=np.int64))
            extra["n_shingles"] = pa.array(n_sh, type=pa.int64())
            extra["n_sample"] = pa.array(n_sample, type=pa.int64())
            parts["sample"].append(pa.table({"h": np.concatenate(sample_h), "doc": np.concatenate(sample_d)}))
        if plan.line:
            nums, hs, ds = [], [], []
            for d, t in zip(docs.tolist(), pylist):
                k, h = line_hashes(t)
                nums.append(k)
                hs.append(h)
                ds.append(np.full(len(k), d, dtype=np.int64))
            parts["lines"].append(pa.table({"lh": np.concatenate(hs), "doc": np.concatenate(ds),
                                            "line": np.concatenate(nums).astype(np.int32)}))
        parts["docs"].append(pa.table({**cols, **extra}))


def has_text(texts) -> np.ndarray:
    """True where a text is not null and not only white space (Unicode White_Space, as pyarrow trims)."""
    trimmed = pc.utf8_length(pc.utf8_trim_whitespace(texts))
    return pc.fill_null(pc.greater(trimmed, 0), False).to_numpy(zero_copy_only=False)
