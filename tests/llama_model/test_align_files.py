"""User alignment data as trl / datasets users have it: every accepted row format, JSONL / Parquet /
save_to_disk folders, and typed errors naming the file and the line or row (issues 13 and 15)."""
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from llama_model import align_data as ad

U, A = "user", "assistant"


def msg(role, content):
    return {"role": role, "content": content}


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------- SFT rows
def test_trl_messages_with_system_user_assistant(tmp_path):
    """Issue 15: trl's {"messages": [system, user, assistant]} SFT rows were rejected."""
    f = write_jsonl(tmp_path / "sft.jsonl", [
        {"messages": [msg("system", "Be brief."), msg(U, "Hi"), msg(A, "Hello")]},
        {"messages": [msg(U, "1+1?"), msg(A, "2"), msg(U, "and 2+2?"), msg(A, "4")]},
        {"prompt": [msg(U, "Capital of France?")], "completion": [msg(A, "Paris")]},
        {"prompt": "Say hi", "completion": "hi"},
        {"system": "Be brief.", "turns": [msg(U, "Hi"), msg(A, "Hello")]},          # the project's first format
    ])
    assert ad.load_sft(f) == [
        {"system": "Be brief.", "turns": [msg(U, "Hi"), msg(A, "Hello")]},
        {"turns": [msg(U, "1+1?"), msg(A, "2"), msg(U, "and 2+2?"), msg(A, "4")]},
        {"turns": [msg(U, "Capital of France?"), msg(A, "Paris")]},
        {"turns": [msg(U, "Say hi"), msg(A, "hi")]},
        {"system": "Be brief.", "turns": [msg(U, "Hi"), msg(A, "Hello")]},
    ]


@pytest.mark.parametrize("row, error", [
    ({"messages": [msg(U, "Hi"), msg("system", "late"), msg(A, "x")]}, r"'messages'\[1\] is a system message: a system message may only come first"),
    ({"messages": [msg(A, "x")]}, r"'messages'\[0\] is 'assistant' where 'user' belongs"),
    ({"messages": [msg(U, "Hi")]}, r"'messages' must end with an assistant turn"),
    ({"messages": [msg(U, "Hi"), msg(A, "")]}, r"'messages'\[1\] \(assistant\) content is empty"),
    ({"messages": [msg(U, "Hi"), msg("tool", "x")]}, r"'messages'\[1\] has role 'tool'"),
    ({"messages": [msg(U, "Hi"), {"role": A, "content": [{"type": "text", "text": "x"}]}]}, r"'messages'\[1\] content is a list of parts \(multimodal\)"),
    ({"messages": [msg(U, "Hi"), {"role": A, "content": 7}]}, r"'messages'\[1\] \(assistant\) content must be text, got the number 7"),
    ({"text": "plain text"}, r"a 'text' row is plain language-model text"),
    ({"prompt": "Hi"}, r"a prompt-completion row needs both 'prompt' and 'completion' \(no 'completion'\)"),
    ({"conversation": []}, r"no dialogue: expected 'messages'"),
    ([1, 2], r"a dialogue must be an object, got a list"),
])
def test_sft_errors_name_file_line_and_problem(tmp_path, row, error):
    f = write_jsonl(tmp_path / "sft.jsonl", [{"messages": [msg(U, "Hi"), msg(A, "Hello")]}, row])
    with pytest.raises(ad.DataError, match=rf"sft.jsonl:2: {error}"):
        ad.load_sft(f)


# --------------------------------------------------------------------------------------------- preference rows
OURS = {"prompt": "What is 1 + 1?", "chosen": "2", "rejected": "3", "rating": 2, "safety": {"unsafe_prompt": False}}
HH = {"chosen": "\n\nHuman: Hi there\n\nAssistant: Hello!\n\nHuman: How are you?\n\nAssistant: Fine, thanks.",
      "rejected": "\n\nHuman: Hi there\n\nAssistant: Hello!\n\nHuman: How are you?\n\nAssistant: Go away."}
ULTRAFEEDBACK = {   # HuggingFaceH4/ultrafeedback_binarized: the prompt repeated inside chosen / rejected
    "prompt": "Name a prime.", "prompt_id": "ab12", "score_chosen": 8.0, "score_rejected": 3.5,
    "chosen": [msg(U, "Name a prime."), msg(A, "7")], "rejected": [msg(U, "Name a prime."), msg(A, "8")],
    "messages": [msg(U, "Name a prime."), msg(A, "7")]}


def test_every_preference_format(tmp_path):
    """Issue 15: conversational chosen/rejected, UltraFeedback rows and a system message in the prompt were
    refused ("missing text field 'chosen'")."""
    rows = [
        OURS,
        HH,
        {"prompt": [msg("system", "Answer in one word."), msg(U, "Is 5 bigger than 3?")],        # trl conversational
         "chosen": [msg(A, "yes")], "rejected": [msg(A, "Yes, 5 is bigger than 3.")], "rating": 1},
        {"chosen": [msg(U, "Hi"), msg(A, "Hello!")], "rejected": [msg(U, "Hi"), msg(A, "Go away.")]},  # implicit prompt
        ULTRAFEEDBACK,
        {"prompt": "\n\nHuman: Hi\n\nAssistant:", "chosen": " Hello!", "rejected": " Go away."},  # HH with a prompt
    ]
    got = ad.load_preferences(write_jsonl(tmp_path / "p.jsonl", rows))
    safe = {"unsafe_prompt": False, "chosen_safe": True, "rejected_safe": True}
    assert got == [
        {"prompt": [msg(U, "What is 1 + 1?")], "chosen": "2", "rejected": "3", "rating": 2, "safety": safe},
        {"prompt": [msg(U, "Hi there"), msg(A, "Hello!"), msg(U, "How are you?")], "chosen": "Fine, thanks.",
         "rejected": "Go away.", "rating": 0, "safety": safe},
        {"system": "Answer in one word.", "prompt": [msg(U, "Is 5 bigger than 3?")], "chosen": "yes",
         "rejected": "Yes, 5 is bigger than 3.", "rating": 1, "safety": safe},
        {"prompt": [msg(U, "Hi")], "chosen": "Hello!", "rejected": "Go away.", "rating": 0, "safety": safe},
        {"prompt": [msg(U, "Name a prime.")], "chosen": "7", "rejected": "8", "rating": 0, "safety": safe},
        {"prompt": [msg(U, "Hi")], "chosen": " Hello!", "rejected": " Go away.", "rating": 0, "safety": safe},
    ]


@pytest.mark.parametrize("row, error", [
    # issue 13: untyped labels were coerced (bool("false") is True, true read as rating 1)
    (OURS | {"safety": {"unsafe_prompt": "false"}}, r"'safety.unsafe_prompt' must be true or false \(a JSON boolean\), got the string 'false'"),
    (OURS | {"safety": {"chosen_safe": 1}}, r"'safety.chosen_safe' must be true or false .*got the number 1"),
    (OURS | {"safety": {"unsafe": True}}, r"'safety' has unknown labels \['unsafe'\]"),
    (OURS | {"safety": [True]}, r"'safety' must be an object of booleans"),
    (OURS | {"rating": True}, r"rating must be 0, 1, 2 or 3 \(a JSON number\), got the boolean true"),
    (OURS | {"rating": "3"}, r"rating must be 0, 1, 2 or 3 \(a JSON number\), got the string '3'"),
    (OURS | {"rating": 9}, r"rating must be 0, 1, 2 or 3 \(got 9\)"),
    (OURS | {"rating": 1.5}, r"rating must be 0, 1, 2 or 3 \(got 1.5\)"),
    (OURS | {"chosen": ""}, r"'chosen' is empty"),
    (OURS | {"chosen": "   "}, r"'chosen' is empty"),
    ({"prompt": "Hi", "chosen": [msg(A, "")], "rejected": [msg(A, "x")]}, r"'chosen'\[0\] \(assistant\) content is empty"),
    (OURS | {"rejected": None}, r"no 'rejected'"),
    (OURS | {"prompt": ""}, r"'prompt' is empty"),
    # issue 15: the real problem, not "missing text field 'chosen'"
    ({"prompt": "Hi", "chosen": 3, "rejected": "x"}, r"'chosen' must be text or a list of messages, got the number 3"),
    ({"prompt": "Hi", "rejected": "x"}, r"no 'chosen': a comparison needs 'chosen' and 'rejected'"),
    ({"chosen": [msg(U, "Hi"), msg(A, "a")], "rejected": "b"}, r"'chosen' and 'rejected' must both be text or both be message lists, got a list and the string 'b'"),
    ({"chosen": [msg(U, "Hi"), msg(A, "a")], "rejected": [msg(U, "Yo"), msg(A, "b")]}, r"'chosen' and 'rejected' conversations must share every message before the last"),
    ({"chosen": [msg(A, "a")], "rejected": [msg(A, "b")]}, r"'chosen'\[0\] is 'assistant' where 'user' belongs"),
    ({"prompt": [msg(U, "Hi"), msg("system", "x")], "chosen": "a", "rejected": "b"}, r"'prompt'\[1\] is a system message"),
    ({"prompt": [msg(U, "Hi"), msg(A, "a")], "chosen": "a", "rejected": "b"}, r"'prompt' must end with a user turn"),
    (ULTRAFEEDBACK | {"chosen": [msg(U, "Another question"), msg(A, "7")]}, r"'chosen' holds 2 messages that are not the prompt"),
    ({"prompt": "Hi", "chosen": [msg(U, "more?")], "rejected": "b"}, r"'chosen' must end with the assistant's answer"),
    ({"chosen": "Hello", "rejected": "Bye"}, r"'chosen' is text without '\\n\\nHuman:'"),
    (HH | {"chosen": "\n\nHuman: Hi there\n\nAssistant:"}, r"'chosen': turn 1 \(Assistant\) is empty"),
    (HH | {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello!"}, r"chosen and rejected transcripts must share"),
    (HH | {"rejected": "Preamble\n\nHuman: Hi\n\nAssistant: x"}, r"'rejected' has text before the first"),
])
def test_preference_errors_name_file_line_and_problem(tmp_path, row, error):
    f = write_jsonl(tmp_path / "prefs.jsonl", [OURS, row])
    with pytest.raises(ad.DataError, match=rf"prefs.jsonl:2: {error}"):
        ad.load_preferences(f)


def test_an_empty_rejected_answer_is_kept(tmp_path):
    """A model that says nothing is a real answer to rank low (our model-sampled pairs have them)."""
    rows = [OURS | {"rejected": ""}, {"prompt": "Hi", "chosen": [msg(A, "Hello")], "rejected": [msg(A, "")]},
            HH | {"rejected": "\n\nHuman: Hi there\n\nAssistant: Hello!\n\nHuman: How are you?\n\nAssistant:"}]
    got = ad.load_preferences(write_jsonl(tmp_path / "p.jsonl", rows))
    assert [p["rejected"] for p in got] == ["", "", ""]
    (tmp_path / "ours.jsonl").write_text(ad.preferences_to_jsonl(got), encoding="utf-8")     # and we read our own back
    assert ad.load_preferences(tmp_path / "ours.jsonl") == got


def test_booleans_and_numbers_pass_when_typed(tmp_path):
    row = OURS | {"rating": 3, "safety": {"unsafe_prompt": True, "chosen_safe": True, "rejected_safe": False}}
    (got,) = ad.load_preferences(write_jsonl(tmp_path / "p.jsonl", [row]))
    assert got["rating"] == 3 and got["safety"] == {"unsafe_prompt": True, "chosen_safe": True, "rejected_safe": False}
    assert ad.load_preferences(write_jsonl(tmp_path / "p.jsonl", [OURS | {"rating": 2.0}]))[0]["rating"] == 2


# --------------------------------------------------------------------------------------------- file level
def test_non_utf8_names_file_and_line(tmp_path):
    """Issue 13: a Latin-1 file raised a bare UnicodeDecodeError."""
    f = tmp_path / "prefs.jsonl"
    f.write_bytes(json.dumps(OURS).encode() + b"\n" + '{"prompt": "caf\u00e9", "chosen": "a", "rejected": "b"}\n'.encode("latin-1"))
    with pytest.raises(ad.DataError, match=r"prefs.jsonl:2: not UTF-8 text \(byte 0xe9 at byte 16 of the line\)"):
        ad.load_preferences(f)


def test_json_errors_and_empty_files(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text(json.dumps(OURS) + "\n{not json\n")
    with pytest.raises(ad.DataError, match=r"p.jsonl:2: not valid JSON \(Expecting property name"):
        ad.load_preferences(f)
    f.write_text('{"prompt": "Hi", "chosen": "a", "rejected": "b", "rating": 1, "rating": 3}\n')
    with pytest.raises(ad.DataError, match=r"p.jsonl:1: duplicate key 'rating'"):
        ad.load_preferences(f)
    f.write_text("\n\n")
    with pytest.raises(ad.DataError, match=r"p.jsonl: no records"):
        ad.load_preferences(f)
    with pytest.raises(ad.DataError, match=r"missing.jsonl: no such file or folder"):
        ad.load_sft(tmp_path / "missing.jsonl")
    f.write_text("\ufeff" + json.dumps(OURS) + "\n", encoding="utf-8")        # a byte-order mark is fine
    assert ad.load_preferences(f)[0]["chosen"] == "2"


def test_parquet_rows_and_errors(tmp_path):
    rows = [{"prompt": [msg(U, f"q{i}")], "chosen": [msg(A, f"a{i}")], "rejected": [msg(A, f"b{i}")],
             "rating": i % 4, "safety": {"unsafe_prompt": False, "chosen_safe": True, "rejected_safe": True}}
            for i in range(2500)]                      # more than one Parquet batch: row numbers run on
    rows[2100]["safety"] = {"unsafe_prompt": None, "chosen_safe": None, "rejected_safe": None}
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "p.parquet")
    got = ad.load_preferences(tmp_path / "p.parquet")
    assert len(got) == 2500 and got[2499] == {"prompt": [msg(U, "q2499")], "chosen": "a2499", "rejected": "b2499",
                                              "rating": 3, "safety": {"unsafe_prompt": False, "chosen_safe": True,
                                                                      "rejected_safe": True}}
    rows[2222]["chosen"] = [msg(A, "")]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "p.parquet")
    with pytest.raises(ad.DataError, match=r"p.parquet: row 2222: 'chosen'\[0\] \(assistant\) content is empty"):
        ad.load_preferences(tmp_path / "p.parquet")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(ad.DataError, match=r"bad.parquet: not a readable Parquet file"):
        ad.load_preferences(tmp_path / "bad.parquet")
    pq.write_table(pa.Table.from_pylist([{"messages": [msg(U, "Hi"), msg(A, "Hello")]}]), tmp_path / "sft.parquet")
    assert ad.load_sft(tmp_path / "sft.parquet") == [{"turns": [msg(U, "Hi"), msg(A, "Hello")]}]


# ----------------------------------------------------------------------- hostile rows (issue 26)
def test_a_deeply_nested_line_is_a_file_line_error(tmp_path):
    f = tmp_path / "deep.jsonl"
    f.write_text(json.dumps(OURS) + "\n" + '{"prompt": ' + "[" * 200_000 + "]" * 200_000 + "}\n")
    with pytest.raises(ad.DataError, match=r"deep.jsonl:2: nested more than 32 levels deep"):
        ad.load_preferences(f)
    f.write_text('{"a": "' + "[" * 100 + '", "prompt": "Hi", "chosen": "a", "rejected": "b"}\n')   # brackets in text
    assert ad.load_preferences(f)[0]["chosen"] == "a"


def test_duplicate_key_among_many_is_found_in_linear_time(tmp_path):
    f = tmp_path / "wide.jsonl"
    keys = [f'"k{i}": {i}' for i in range(60_000)] + ['"k17": 0']
    f.write_text('{"prompt": "Hi", "chosen": "a", "rejected": "b", ' + ", ".join(keys) + "}\n")
    with pytest.raises(ad.DataError, match=r"wide.jsonl:1: duplicate key 'k17'"):
        ad.load_preferences(f)


def test_a_lone_surrogate_escape_is_refused(tmp_path):
    f = tmp_path / "s.jsonl"
    f.write_text('{"prompt": "Hi \\ud800 there", "chosen": "a", "rejected": "b"}\n')
    with pytest.raises(ad.DataError, match=r"s.jsonl:1: a lone surrogate escape"):
        ad.load_preferences(f)
    f.write_text('{"prompt": "an escaped pair \\ud83e\\udd99", "chosen": "a", "rejected": "b"}\n')
    assert ad.load_preferences(f)[0]["prompt"][0]["content"].endswith("\U0001f999")


def test_line_bytes_and_turns_are_capped(tmp_path):
    caps = ad.Caps(line_bytes=1000, turns=10, depth=32)
    f = tmp_path / "big.jsonl"
    f.write_text(json.dumps(OURS) + "\n" + json.dumps({"prompt": "x" * 5000, "chosen": "a", "rejected": "b"}) + "\n")
    with pytest.raises(ad.DataError, match=r"big.jsonl:2: line longer than 1000 bytes"):
        ad.load_preferences(f, caps)
    turns = [msg(U, "q"), msg(A, "a")] * 6
    write_jsonl(f, [{"messages": turns}])
    with pytest.raises(ad.DataError, match=r"big.jsonl:1: 'messages' holds 12 turns, more than 10"):
        ad.load_sft(f, caps)
    assert len(ad.load_sft(f)[0]["turns"]) == 12                # the default caps (the profile's) hold it
    hh = "".join("\n\nHuman: q\n\nAssistant: a" for _ in range(6))        # an Anthropic HH transcript
    write_jsonl(f, [{"chosen": hh, "rejected": hh}])
    with pytest.raises(ad.DataError, match=r"big.jsonl:1: 'chosen' holds 12 turns, more than 10"):
        ad.load_preferences(f, caps)
    write_jsonl(f, [{"messages": [msg(U, "q"), msg(A, "a")] * 25}])      # counted before parsing
    with pytest.raises(ad.DataError, match=r"big.jsonl:1: holds 51 JSON objects, more than rows of 10 turns can"):
        ad.load_sft(f, ad.Caps(line_bytes=10_000, turns=10, depth=32))
    from llama_model.configs import get_profile
    assert ad.Caps.of(get_profile("tiny").align) == ad.Caps()


def test_dataset_dict_splits_stay_inside_the_folder(tmp_path):
    (tmp_path / "victim").mkdir()
    d = tmp_path / "saved"
    d.mkdir()
    for splits in (["../victim"], ["/etc"], [".."], "train/../../victim"):
        (d / "dataset_dict.json").write_text(json.dumps({"splits": splits}))
        with pytest.raises(ad.DataError, match=r"is not a folder name inside"):
            ad.load_preferences(d)


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                     lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                     max_leaves=20)
_ROW = st.fixed_dictionaries({}, optional={
    "prompt": _JSON | st.text(max_size=30), "chosen": _JSON | st.text(max_size=30), "rejected": _JSON | st.text(),
    "messages": st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", "x"]),
                                                "content": _JSON | st.text(max_size=20)}), max_size=5),
    "rating": _JSON, "safety": _JSON, "system": _JSON, "turns": _JSON})
_LINE = _ROW.map(json.dumps) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")) | st.text(max_size=60)


@settings(max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(lines=st.lists(_LINE, max_size=4), raw=st.binary(max_size=100))
def test_fuzzed_files_load_or_fail_with_a_data_error(tmp_path_factory, lines, raw):
    f = tmp_path_factory.mktemp("fuzz") / "rows.jsonl"
    f.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass") + b"\n" + raw)
    caps = ad.Caps(line_bytes=4096, turns=3, depth=6)
    for load in (ad.load_sft, ad.load_preferences):
        try:
            out = load(f, caps)
        except ad.DataError as e:
            assert str(e).startswith(str(f)) and "\n" not in str(e)
        else:
            assert out and all(isinstance(r, dict) for r in out)
