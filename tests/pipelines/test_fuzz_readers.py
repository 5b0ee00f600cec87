"""Fuzzing every reader (issue 13): random truncations, bit flips, deletions and splices of the bundled
samples, as stored (compressed) and of their decompressed content.

Every case must end in documents and counted skips that balance, or in a ReaderError naming the file;
any other exception fails, and so would a hang (a per-case alarm, plus faulthandler as a hard stop for
a hang in native code) or memory past the caps (peak RSS growth over the whole run is bounded).
Hypothesis is derandomized: CI runs the same cases every time. LLAMA_FUZZ_EXAMPLES sets the number of
cases per sample variant (default 200: 3,000 cases in all, 400-600 per reader, 20-30 s on 2 cores).
"""
import bz2
import faulthandler
import gzip
import os
import resource
import shutil
import signal
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pipelines.base import Stats  # noqa: E402
from pipelines.readers import Limits, ReaderError, list_units, read_unit  # noqa: E402

BUNDLED = Path(__file__).resolve().parents[2] / "pipelines" / "samples" / "bundled"
EXAMPLES = int(os.environ.get("LLAMA_FUZZ_EXAMPLES", "200"))
CASE_SECONDS = 20
LIMITS = Limits(record_bytes=1 << 20, wikitext_chars=1 << 20, book_bytes=1 << 20, github_file_bytes=1 << 20,
                archive_member_bytes=1 << 20, archive_bytes=2 << 20, archive_members=1000)

# (source, sample relative to bundled/, name in the fuzzed dump, how to get the decompressed content)
SAMPLES = [
    ("c4", "c4/en/c4-train.00000-of-01024.json.gz", "c4-train.0.json.gz", None),
    ("c4", "c4/en/c4-train.00000-of-01024.json.gz", "c4-train.0.json", gzip.decompress),
    ("commoncrawl", "commoncrawl/CC-MAIN-2024-22/whirlwind.warc.wet.gz", "x.warc.wet.gz", None),
    ("commoncrawl", "commoncrawl/CC-MAIN-2024-22/whirlwind.warc.gz", "x.warc", gzip.decompress),
    ("commoncrawl", "commoncrawl/CC-MAIN-2024-22/whirlwind.warc.wet.gz", "x.wet", gzip.decompress),
    ("wikipedia", "wikipedia/20220701/dewiki-20220701-pages-articles-sample.xml.bz2",
     "dewiki-1-pages-articles.xml.bz2", None),
    ("wikipedia", "wikipedia/20220701/dewiki-20220701-pages-articles-sample.xml.bz2",
     "dewiki-1-pages-articles.xml", bz2.decompress),
    ("books", "books/gutenberg/generated-90002.txt", "pg90002.txt", None),
    ("books", "books/gutenberg/pg11.txt", "pg11.txt", None),
    ("arxiv", "arxiv/2023-01/2301.00001.tar.gz", "2301.00001.tar.gz", None),
    ("arxiv", "arxiv/2023-01/2301.00001.tar.gz", "2301.00001.tar", gzip.decompress),
    ("stackexchange", "stackexchange/2024-04/synthetic.stackexchange.com/Posts.xml",
     "s.stackexchange.com/Posts.xml", None),
    ("stackexchange", "stackexchange/2024-04/beer.stackexchange.com/Posts.xml", "beer.stackexchange.com/Posts.xml",
     lambda d: b"\n".join(d.split(b"\n")[:60]) + b"\n</posts>\n"),  # the first 58 real rows
    ("github", "github/2023-03/sample-mit__noisy-melody-0/src/farmer_0.py", "r__x/src/farmer_0.py", None),
    ("github", "github/2023-03/sample-mit__noisy-melody-0/LICENSE", "r__x/LICENSE", None),
]

POS = st.integers(0, 2**32)
OPS = st.lists(st.one_of(
    st.tuples(st.just("truncate"), POS),
    st.tuples(st.just("flip"), POS, st.integers(0, 7)),
    st.tuples(st.just("delete"), POS, st.integers(1, 64)),
    st.tuples(st.just("splice"), POS, POS, st.integers(1, 4096)),  # copy a span of the file elsewhere
), min_size=1, max_size=4)


def mutate(data: bytes, ops) -> bytes:
    b = bytearray(data)
    for op in ops:
        n = max(1, len(b))
        if op[0] == "truncate":
            del b[op[1] % n:]
        elif op[0] == "flip" and b:
            b[op[1] % n] ^= 1 << op[2]
        elif op[0] == "delete":
            i = op[1] % n
            del b[i:i + op[2]]
        elif op[0] == "splice":
            i, j = op[1] % n, op[2] % n
            b[j:j] = b[i:i + op[3]]
    return bytes(b)


class _Timeout(BaseException):  # not an Exception: the readers' handlers must not swallow it
    pass


def _alarm(*_):
    raise _Timeout(f"a fuzz case ran past {CASE_SECONDS}s")


def check_case(source: str, dump_dir: Path, name: str) -> str:
    """'error' (a ReaderError naming the file), 'skips' (only counted skips) or 'documents'."""
    stats, ids, skipped = Stats(), set(), []
    try:
        for unit in list_units(source, dump_dir):
            for doc in read_unit(source, dump_dir, unit, stats=stats, on_skip=skipped.append, limits=LIMITS):
                assert isinstance(doc.text, str) and doc.text and len(doc.id) == 32 and doc.id not in ids
                ids.add(doc.id)
    except ReaderError as e:
        assert Path(name).name in str(e) or str(dump_dir) in str(e), str(e)
        return "error"
    assert stats.balanced, stats.as_dict()
    all_ids = list(ids) + [s.id for s in skipped]
    assert len(set(all_ids)) == len(all_ids), "two records share an id"
    return "documents" if stats.kept else "skips"


@pytest.mark.parametrize("source,sample,name,inner", SAMPLES,
                         ids=[f"{s[0]}-{s[2].rsplit('/', 1)[-1]}" for s in SAMPLES])
def test_fuzz_reader(tmp_path, source, sample, name, inner):
    original = (BUNDLED / sample).read_bytes()
    data = inner(original) if inner else original
    dump_dir = tmp_path / "dumps" / source / "fuzz"
    if source == "github":  # the rest of a real repository around the fuzzed file
        shutil.copytree(BUNDLED / "github/2023-03/sample-mit__noisy-melody-0", dump_dir / "r__x")
    target = dump_dir / name
    target.parent.mkdir(parents=True, exist_ok=True)
    peak0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    old = signal.signal(signal.SIGALRM, _alarm)
    outcomes = {"documents": 0, "skips": 0, "error": 0}

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(ops=OPS)
    def case(ops):
        target.write_bytes(mutate(data, ops))
        faulthandler.dump_traceback_later(3 * CASE_SECONDS, exit=True)  # native hang: stop the run, loudly
        signal.alarm(CASE_SECONDS)
        try:
            outcomes[check_case(source, dump_dir, name)] += 1
        finally:
            signal.alarm(0)
            faulthandler.cancel_dump_traceback_later()

    try:
        case()
    finally:
        signal.signal(signal.SIGALRM, old)
    growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak0) / 1024
    print(f"fuzz {source} {name}: {sum(outcomes.values())} cases {outcomes}, peak RSS +{growth_mb:.0f} MB")
    assert sum(outcomes.values()) >= min(EXAMPLES, 50)
    assert growth_mb < 256, f"peak RSS grew by {growth_mb:.0f} MB while fuzzing {source}"
