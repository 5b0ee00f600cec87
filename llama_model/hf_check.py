"""Checks of a Hugging Face Llama folder before anything is loaded or allocated (`llama_model.hf` imports).

    cfg, files = read_hf_folder(Path("/tmp/llama_hf"))   # config + weight files, sizes and shapes checked

A folder is a user's input: its config.json may say anything (10**6 layers, 0 heads, "4096" as a string)
and its index may name any path. Each is refused here with one line naming the file, from the
config and the safetensors headers alone (a JSON header per file, a few KB): the layers, shapes and
vocabulary the config declares must be exactly the tensors present, so no model is built from a config
the weights do not back, and the weight files named by model.safetensors.index.json must be plain file
names inside the folder. An export's tokenizer must have exactly the model's embedding rows
(check_tokenizer).
"""
from __future__ import annotations

import json
import os
import re
import struct
from pathlib import Path

HF_CONFIG = "config.json"
META_PARAMS = "params.json"
HF_WEIGHTS = "model.safetensors"
INDEX = HF_WEIGHTS + ".index.json"
MAX_HEADER = 100 * 2**20            # safetensors' own limit on the JSON header
MAX_DIM = 2**20                     # widths, heads, layers, vocabulary: far above any Llama's
MAX_CONTEXT = 2**24                 # max_position_embeddings
_LAYER = re.compile(r"^model\.layers\.(\d+)\.(.+)\.weight$")
SIZES = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size")


def _positive_int(cfg: dict, key: str, where: Path, default=None, limit: int = MAX_DIM) -> int:
    v = cfg.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= limit:
        raise ValueError(f"{where}: {key} must be a whole number from 1 to {limit}, got {v!r}")
    return v


def check_config(cfg: object, where: Path) -> dict:
    """The sizes of config.json as plain positive integers that divide as a Llama's must; else ValueError."""
    if not isinstance(cfg, dict):
        raise ValueError(f"{where}: not a JSON object")
    dim, inter, layers, heads, vocab = (_positive_int(cfg, k, where) for k in SIZES)
    kv = _positive_int(cfg, "num_key_value_heads", where, default=heads)
    _positive_int(cfg, "max_position_embeddings", where, default=2048, limit=MAX_CONTEXT)
    if dim % heads or (dim // heads) % 2:
        raise ValueError(f"{where}: hidden_size {dim} is not num_attention_heads {heads} x an even head size")
    if heads % kv:
        raise ValueError(f"{where}: num_attention_heads {heads} is not a multiple of num_key_value_heads {kv}")
    for key in ("rms_norm_eps", "rope_theta"):
        v = cfg.get(key, 1.0)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or v != v or v == float("inf"):
            raise ValueError(f"{where}: {key} must be a positive number, got {v!r}")
    return {"dim": dim, "inter": inter, "layers": layers, "heads": heads, "kv": kv, "vocab": vocab}


def header_shapes(path: Path) -> dict[str, list[int]]:
    """{tensor name: shape} from a safetensors file's JSON header, without reading any tensor."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            (n,) = struct.unpack("<Q", head) if len(head) == 8 else (-1,)
            if not 0 < n <= MAX_HEADER:
                raise ValueError("no safetensors header")
            meta = json.loads(f.read(n))
        return {k: list(v["shape"]) for k, v in meta.items() if k != "__metadata__"}
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not a safetensors file ({e})") from None


def weight_files(d: Path) -> list[str]:
    """The weight file names of a folder: model.safetensors, or those its index names (inside d only)."""
    index = d / INDEX
    if not index.is_file():
        return [HF_WEIGHTS]
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        names = sorted(set(weight_map.values()))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"{index}: not a safetensors index ({e!r})") from None
    for name in names:
        # an index names shards beside it: "../outside/stolen.safetensors" would import another folder's file
        if not isinstance(name, str) or Path(name).name != name or name in ("", ".", "..") or "\\" in name:
            raise ValueError(f"{index}: weight file {name!r} is not a file name inside {d}")
    return names


def expected_shapes(s: dict) -> dict[str, list[int]]:
    """{HF key suffix: shape} of one decoder layer for sizes s (from check_config)."""
    hd = s["dim"] // s["heads"]
    return {"self_attn.q_proj": [s["heads"] * hd, s["dim"]], "self_attn.k_proj": [s["kv"] * hd, s["dim"]],
            "self_attn.v_proj": [s["kv"] * hd, s["dim"]], "self_attn.o_proj": [s["dim"], s["heads"] * hd],
            "mlp.gate_proj": [s["inter"], s["dim"]], "mlp.up_proj": [s["inter"], s["dim"]],
            "mlp.down_proj": [s["dim"], s["inter"]], "input_layernorm": [s["dim"]],
            "post_attention_layernorm": [s["dim"]]}


def check_shapes(s: dict, shapes: dict[str, list[int]], d: Path) -> None:
    """The tensors present are exactly the layers, shapes and vocabulary the config declares."""
    cfg = d / HF_CONFIG
    layers = {int(m.group(1)) for k in shapes if (m := _LAYER.match(k))}
    if layers != set(range(s["layers"])):
        have = f"{len(layers)} ({min(layers)}..{max(layers)})" if layers else "none"
        raise ValueError(f"{cfg}: num_hidden_layers is {s['layers']} but the weights hold layers {have}")
    emb = shapes.get("model.embed_tokens.weight")
    if emb != [s["vocab"], s["dim"]]:
        raise ValueError(f"{cfg}: vocab_size x hidden_size is {s['vocab']} x {s['dim']} but "
                         f"model.embed_tokens.weight is {emb}")
    per_layer = expected_shapes(s)
    for key, shape in sorted(shapes.items()):
        m = _LAYER.match(key)
        want = per_layer.get(m.group(2)) if m else {"model.norm.weight": [s["dim"]],
                                                    "lm_head.weight": [s["vocab"], s["dim"]]}.get(key)
        if want is not None and shape != want:
            raise ValueError(f"{cfg}: {key} is {shape} in the weights but the config makes it {want}")


def read_hf_folder(d: Path) -> tuple[dict, list[str]]:
    """(config, weight file names) of a HF folder, every check above passed."""
    path = d / HF_CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a Hugging Face checkpoint")
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"{path}: not a JSON object")
    if cfg.get("model_type", "llama") != "llama":
        raise ValueError(f"{path}: model_type {cfg.get('model_type')!r} is not llama")
    sizes = check_config(cfg, path)
    files = weight_files(d)
    shapes: dict[str, list[int]] = {}
    for f in files:
        if not (d / f).is_file():
            raise FileNotFoundError(f"{d / f}: missing weights file (only safetensors checkpoints are read)")
        shapes.update(header_shapes(d / f))
    check_shapes(sizes, shapes, d)
    return cfg, files


def checkpoint_vocab_size(src: str | os.PathLike) -> int | None:
    """The embedding rows a checkpoint folder declares (params.json or config.json), without loading it."""
    d = Path(src)
    for name, key in ((META_PARAMS, "vocab_size"), (HF_CONFIG, "vocab_size")):
        if (d / name).is_file():
            try:
                n = json.loads((d / name).read_text()).get(key)
            except (ValueError, AttributeError):
                return None
            return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None
    return None


def check_tokenizer(tokenizer: str | os.PathLike, vocab_size: int, src: str | os.PathLike) -> None:
    """Refuse a tokenizer whose piece count differs from the model's embedding rows (transformers would
    index past the embedding, or never use some rows)."""
    from sentencepiece import SentencePieceProcessor

    try:
        n = SentencePieceProcessor(model_file=str(tokenizer)).get_piece_size()
    except (OSError, RuntimeError) as e:
        raise ValueError(f"{tokenizer}: not a SentencePiece model ({str(e).splitlines()[0] if str(e) else e})") from None
    if n != vocab_size:
        raise ValueError(f"{tokenizer} has {n} pieces but {src} has {vocab_size} embedding rows: pass the "
                         "checkpoint's own tokenizer with --tokenizer")
