"""Our SentencePiece tokenizer as Hugging Face tokenizer files, built without the protobuf-generated module.

    from llama_model.hf_tokenizer import write_hf_tokenizer
    write_hf_tokenizer("data/tokenizer/tokenizer.model", "out/hf", model_max_length=4096)
    # tokenizer.model + tokenizer.json + tokenizer_config.json (with the Llama 2 chat template)
    # + special_tokens_map.json: AutoTokenizer.from_pretrained("out/hf") works, use_fast True or False.

Why not transformers' slow->fast conversion: it parses tokenizer.model with sentencepiece's generated
`sentencepiece_model_pb2`, which needs protobuf >= 7, while dagster pins protobuf < 7. Everything the fast
tokenizer needs is readable through the SentencePiece runtime API (pieces, scores, piece types), so
`tokenizer.json` is built here with the `tokenizers` library directly, the way a Llama tokenizer is laid
out: a BPE model with byte fallback whose merges are ordered by the score of the merged piece (SentencePiece
BPE applies the best-scored merge first), a normalizer that prepends "▁" and turns spaces into "▁"
(add_dummy_prefix, no NFKC: our trainer uses the identity normalization), and the matching decoder.
`legacy: true` keeps the slow LlamaTokenizer on plain `SentencePieceProcessor.Load` (legacy=false would
rewrite the proto, which needs the generated module again). tests/llama_model/test_hf.py checks ids equal.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from sentencepiece import SentencePieceProcessor

from common.io import atomic_path, write_text

SPACE = "\u2581"   # SentencePiece's whitespace symbol

# Llama 2 chat format, rendered so that tokenizing the text gives the ids of llama_model.chat_format:
# every [INST] block follows <s>, an answer is " {answer}" then </s> (no space before </s>: our encoder
# encodes the answer alone and appends the </s> id). A first message with role "system" goes inside the
# first [INST] block between <<SYS>> markers. Each answer, with its leading space and its </s>, sits in a
# {% generation %} block: transformers' return_assistant_tokens_mask (trl's assistant_only_loss) then marks
# exactly the tokens our SFT loss mask marks (the answer's pieces, the first carrying the space, and </s>).
CHAT_TEMPLATE = (
    "{%- if messages and messages[0]['role'] == 'system' -%}"
    "{%- set system_message = messages[0]['content'] -%}{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}{%- set system_message = '' -%}{%- set loop_messages = messages -%}{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
    "{{ raise_exception('roles must alternate user/assistant/user/... after an optional system message') }}"
    "{%- endif -%}"
    "{%- if message['role'] == 'user' -%}"
    "{%- if loop.index0 == 0 and system_message -%}"
    "{%- set content = '<<SYS>>\\n' + system_message | trim + '\\n<</SYS>>\\n\\n' + message['content'] | trim -%}"
    "{%- else -%}{%- set content = message['content'] | trim -%}{%- endif -%}"
    "{{ bos_token + '[INST] ' + content | trim + ' [/INST]' }}"
    "{%- else -%}"
    "{% generation %}{{ ' ' + message['content'] | trim + eos_token }}{% endgeneration %}"
    "{%- endif -%}"
    "{%- endfor -%}"
)


def _special(sp: SentencePieceProcessor) -> dict[int, str]:
    """Control and unknown pieces (<unk>, <s>, </s>): HF's special tokens."""
    return {i: sp.id_to_piece(i) for i in range(sp.get_piece_size()) if sp.is_control(i) or sp.is_unknown(i)}


def bpe_merges(sp: SentencePieceProcessor) -> list[tuple[str, str]]:
    """Merges of the BPE vocabulary: every way to split a piece into two pieces of the vocabulary, best
    scored piece first (ties by id), the splits of one piece by the ids of their parts."""
    n = sp.get_piece_size()
    vocab = {sp.id_to_piece(i): i for i in range(n)}
    plain = [i for i in range(n) if not (sp.is_control(i) or sp.is_unknown(i) or sp.is_byte(i) or sp.is_unused(i))]
    merges = []
    for i in sorted(plain, key=lambda i: (-sp.get_score(i), i)):
        piece = sp.id_to_piece(i)
        splits = [(piece[:k], piece[k:]) for k in range(1, len(piece))
                  if piece[:k] in vocab and piece[k:] in vocab]
        merges += sorted(splits, key=lambda lr: (vocab[lr[0]], vocab[lr[1]]))
    return merges


def build_tokenizer_json(model_path: str | os.PathLike) -> str:
    """The `tokenizer.json` text of a SentencePiece BPE model (see the module docstring)."""
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, processors
    from tokenizers.models import BPE

    sp = SentencePieceProcessor(model_file=str(model_path))
    if sp.unk_id() < 0 or sp.bos_id() < 0 or sp.eos_id() < 0:
        raise ValueError(f"{model_path}: needs <unk>, <s> and </s> pieces (a Llama-style SentencePiece model)")
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    unk = sp.id_to_piece(sp.unk_id())
    tok = Tokenizer(BPE(vocab=vocab, merges=bpe_merges(sp), unk_token=unk, fuse_unk=True, byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend(SPACE), normalizers.Replace(" ", SPACE)])
    tok.decoder = decoders.Sequence([decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    bos = sp.id_to_piece(sp.bos_id())
    tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                                       special_tokens=[(bos, sp.bos_id())])
    tok.add_special_tokens([AddedToken(p, normalized=False, special=True) for p in _special(sp).values()])
    return json.dumps(json.loads(tok.to_str()), indent=2, ensure_ascii=False) + "\n"


def tokenizer_config(model_path: str | os.PathLike, model_max_length: int, pad_token: str | None = None) -> dict:
    """pad_token None means <unk> (id 0), as Llama fine-tunes do: trl's collators and batched generation need
    a pad token, and padding positions carry no loss and no attention, so which id it is does not matter."""
    sp = SentencePieceProcessor(model_file=str(model_path))
    pad_token = pad_token or sp.id_to_piece(sp.unk_id())
    return {
        "tokenizer_class": "LlamaTokenizer",
        "add_bos_token": True, "add_eos_token": False,
        "bos_token": sp.id_to_piece(sp.bos_id()), "eos_token": sp.id_to_piece(sp.eos_id()),
        "unk_token": sp.id_to_piece(sp.unk_id()), "pad_token": pad_token,
        "legacy": True, "clean_up_tokenization_spaces": False, "spaces_between_special_tokens": False,
        "sp_model_kwargs": {}, "model_max_length": model_max_length,
        "added_tokens_decoder": {str(i): {"content": p, "lstrip": False, "normalized": False, "rstrip": False,
                                          "single_word": False, "special": True} for i, p in _special(sp).items()},
        "chat_template": CHAT_TEMPLATE,
    }


def write_hf_tokenizer(model_path: str | os.PathLike, out_dir: str | os.PathLike, model_max_length: int,
                       pad_token: str | None = None) -> list[Path]:
    """Write the four tokenizer files into out_dir (each atomically); returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = tokenizer_config(model_path, model_max_length, pad_token)
    with atomic_path(out / "tokenizer.model") as tmp:
        shutil.copyfile(model_path, tmp)
    write_text(out / "tokenizer.json", build_tokenizer_json(model_path))
    write_text(out / "tokenizer_config.json", json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")
    special = {k: cfg[k] for k in ("bos_token", "eos_token", "unk_token", "pad_token") if cfg[k] is not None}
    write_text(out / "special_tokens_map.json", json.dumps(special, indent=2) + "\n")
    return [out / n for n in ("tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")]
