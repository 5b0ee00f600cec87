"""Hugging Face layout: export for transformers / trl / lm-eval, and import of a HF Llama checkpoint.

    llama-pipeline convert --to hf data/rlhf_v5 /tmp/chat_hf        # + tokenizer files, chat template
    llama-pipeline convert --to hf data/helpfulness_rm /tmp/rm_hf   # LlamaForSequenceClassification, 1 label
    llama-pipeline convert --from hf /tmp/some_llama_hf /tmp/ours   # Meta layout + tokenizer.model

    from llama_model.hf import export_hf, import_hf, save_hf, load_hf
    export_hf("data/rlhf_v5", "/tmp/chat_hf", tokenizer="data/tokenizer/tokenizer.model")
    AutoModelForCausalLM.from_pretrained("/tmp/chat_hf"); AutoTokenizer.from_pretrained("/tmp/chat_hf")

Meta checkpoints rotate adjacent pairs of q/k (complex RoPE); Hugging Face rotates halves. The two are the
same model up to a permutation of the rows of wq and wk inside each head: HF row (h, i, j) with i in the
two halves and j < head_dim/2 is Meta row (h, j, i). `_to_hf_rows` / `_from_hf_rows` apply it (this is
what transformers' convert_llama_weights_to_hf.py does).

A reward model (our folder with head.safetensors + reward_model.json) exports as
LlamaForSequenceClassification: the trunk's weights, `score.weight` = our head, no LM head. HF reads the
score at the last token that is not the pad token; pad_token_id is <unk> (0) because our scored sequences
end with </s>, so the last real token is always read.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch

from common.io import atomic_path, write_text
from llama_model.checkpoint import (
    META_PARAMS,
    META_WEIGHTS,
    _build,
    full_state_dict,
    load_meta,
    save_meta,
)
from llama_model.configs import ModelArgs
from llama_model.hf_check import check_tokenizer, checkpoint_vocab_size
from llama_model.model import Transformer

HF_CONFIG = "config.json"
HF_WEIGHTS = "model.safetensors"
TOKENIZER = "tokenizer.model"
RM_FILES = ("head.safetensors", "reward_model.json")
CAUSAL, REWARD = "LlamaForCausalLM", "LlamaForSequenceClassification"


def _to_hf_rows(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Meta (adjacent pairs) -> HF (halves) row order of a q/k projection [n_heads*hd, dim]."""
    rows, cols = w.shape
    return w.view(n_heads, rows // n_heads // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


def _from_hf_rows(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """HF (halves) -> Meta (adjacent pairs) row order; the inverse of _to_hf_rows."""
    rows, cols = w.shape
    return w.view(n_heads, 2, rows // n_heads // 2, cols).transpose(1, 2).reshape(rows, cols)


_HF_LAYER_KEYS = {   # ours -> HF, inside layers.N / model.layers.N
    "attention.wq": "self_attn.q_proj", "attention.wk": "self_attn.k_proj",
    "attention.wv": "self_attn.v_proj", "attention.wo": "self_attn.o_proj",
    "feed_forward.w1": "mlp.gate_proj", "feed_forward.w2": "mlp.down_proj", "feed_forward.w3": "mlp.up_proj",
    "attention_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
}
_HF_TOP_KEYS = {"tok_embeddings": "model.embed_tokens", "norm": "model.norm", "output": "lm_head"}


def to_hf_state_dict(sd: dict[str, torch.Tensor], args: ModelArgs) -> dict[str, torch.Tensor]:
    out = {}
    for key, w in sd.items():
        name = key.removesuffix(".weight")
        if name in _HF_TOP_KEYS:
            out[_HF_TOP_KEYS[name] + ".weight"] = w
            continue
        _, n, rest = name.split(".", 2)
        if rest == "attention.wq":
            w = _to_hf_rows(w, args.n_heads)
        elif rest == "attention.wk":
            w = _to_hf_rows(w, args.kv_heads)
        out[f"model.layers.{n}.{_HF_LAYER_KEYS[rest]}.weight"] = w.contiguous()
    return out


def from_hf_state_dict(sd: dict[str, torch.Tensor], args: ModelArgs) -> dict[str, torch.Tensor]:
    top = {v: k for k, v in _HF_TOP_KEYS.items()}
    layer = {v: k for k, v in _HF_LAYER_KEYS.items()}
    out = {}
    for key, w in sd.items():
        name = key.removesuffix(".weight")
        if name in top:
            out[top[name] + ".weight"] = w
            continue
        if name.endswith("rotary_emb.inv_freq") or name == "score":
            continue
        parts = name.split(".", 3)          # model, layers, N, rest
        if parts[:2] != ["model", "layers"] or parts[3] not in layer:
            raise ValueError(f"unexpected key in a Hugging Face Llama checkpoint: {key}")
        rest = layer[parts[3]]
        if rest == "attention.wq":
            w = _from_hf_rows(w, args.n_heads)
        elif rest == "attention.wk":
            w = _from_hf_rows(w, args.kv_heads)
        out[f"layers.{parts[2]}.{rest}.weight"] = w.contiguous()
    if "output.weight" not in out and "tok_embeddings.weight" in out:   # tied embeddings, or a RM's trunk
        out["output.weight"] = out["tok_embeddings.weight"].clone()
    return out


def hf_config(args: ModelArgs, dtype: torch.dtype = torch.float32, architecture: str = CAUSAL) -> dict:
    cfg = {
        "architectures": [architecture], "model_type": "llama",
        "hidden_size": args.dim, "intermediate_size": args.hidden_dim,
        "num_hidden_layers": args.n_layers, "num_attention_heads": args.n_heads,
        "num_key_value_heads": args.kv_heads, "head_dim": args.head_dim, "vocab_size": args.vocab_size,
        "rms_norm_eps": args.norm_eps, "rope_theta": args.rope_theta,
        "max_position_embeddings": args.max_seq_len, "hidden_act": "silu", "tie_word_embeddings": False,
        "attention_bias": False, "mlp_bias": False, "bos_token_id": 1, "eos_token_id": 2,
        "torch_dtype": str(dtype).removeprefix("torch."),
    }
    if architecture == REWARD:   # one scalar score; HF finds the last token by pad_token_id (see module doc)
        cfg |= {"num_labels": 1, "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}, "pad_token_id": 0}
    return cfg


def args_from_hf_config(cfg: dict) -> ModelArgs:
    """ModelArgs reproducing cfg; multiple_of / ffn_dim_multiplier are chosen to give intermediate_size."""
    dim, inter = cfg["hidden_size"], cfg["intermediate_size"]
    base = {"dim": dim, "n_layers": cfg["num_hidden_layers"], "n_heads": cfg["num_attention_heads"],
            "n_kv_heads": cfg.get("num_key_value_heads") or cfg["num_attention_heads"],
            "vocab_size": cfg["vocab_size"], "norm_eps": cfg.get("rms_norm_eps", 1e-6),
            "rope_theta": float(cfg.get("rope_theta", 10000.0)),
            "max_seq_len": cfg.get("max_position_embeddings", 2048)}
    if cfg.get("head_dim") not in (None, dim // base["n_heads"]):
        raise ValueError(f"head_dim {cfg['head_dim']} != hidden_size / heads: not supported")
    # What our Transformer does not have: refuse rather than load a silently different model.
    unsupported = {k: cfg[k] for k in ("rope_scaling", "attention_bias", "mlp_bias") if cfg.get(k)}
    if cfg.get("hidden_act", "silu") != "silu":
        unsupported["hidden_act"] = cfg["hidden_act"]
    if unsupported:
        raise ValueError(f"not a LLaMA / Llama 2 architecture (our model has plain RoPE, no biases, SiLU): {unsupported}")
    for multiple_of in (256, 4096, 1024, 512, 128, 64, 32, 16, 8, 4, 2, 1):
        args = ModelArgs(**base, multiple_of=multiple_of)
        if args.hidden_dim == inter:
            return args
    # Otherwise a multiplier that lands exactly on intermediate_size (as for Llama-2-70B).
    return ModelArgs(**base, multiple_of=inter, ffn_dim_multiplier=inter / int(8 * dim / 3))


def _write_weights(out: Path, sd: dict[str, torch.Tensor], cfg: dict) -> None:
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / HF_WEIGHTS) as tmp:
        save_file(sd, str(tmp), metadata={"format": "pt"})
    write_text(out / HF_CONFIG, json.dumps(cfg, indent=2) + "\n")


def save_hf(model: torch.nn.Module, args: ModelArgs, out_dir: str | os.PathLike) -> Path:
    """Write config.json + model.safetensors loadable by transformers' LlamaForCausalLM.from_pretrained."""
    sd = to_hf_state_dict(full_state_dict(model), args)
    _write_weights(Path(out_dir), sd, hf_config(args, next(iter(sd.values())).dtype))
    return Path(out_dir)


def save_hf_rm(rm, args: ModelArgs, out_dir: str | os.PathLike) -> Path:
    """A RewardModel as LlamaForSequenceClassification (trunk + score.weight; no LM head)."""
    bias = float(rm.head.bias.detach().reshape(-1)[0]) if rm.head.bias is not None else 0.0
    if bias != 0.0:   # HF's score layer has no bias: the exported scores would all be off by it
        raise ValueError(f"this reward model's head has bias {bias:g}; LlamaForSequenceClassification has no "
                         "score bias, so its scores would differ from ours by that constant (RMs trained now keep it at 0: re-train)")
    sd = to_hf_state_dict(full_state_dict(rm.trunk), args)
    sd.pop("lm_head.weight")
    sd["score.weight"] = rm.head.weight.detach().cpu().contiguous()
    _write_weights(Path(out_dir), sd, hf_config(args, sd["score.weight"].dtype, REWARD))
    return Path(out_dir)


def _read_hf(d: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    from safetensors.torch import load_file

    from llama_model.hf_check import read_hf_folder

    cfg, files = read_hf_folder(d)    # config, index and tensor shapes checked before any tensor is read
    sd: dict[str, torch.Tensor] = {}
    for f in files:
        sd.update(load_file(str(d / f)))
    return cfg, sd


def load_hf(ckpt_dir: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[Transformer, ModelArgs]:
    """Load a Hugging Face Llama folder (config.json + model.safetensors or its sharded index)."""
    cfg, sd = _read_hf(Path(ckpt_dir))
    args = args_from_hf_config(cfg)
    return _build(args, from_hf_state_dict(sd, args), device), args


def load_hf_rm(ckpt_dir: str | os.PathLike):
    """A one-label LlamaForSequenceClassification folder as our RewardModel (head bias 0)."""
    from llama_model.reward import RewardModel

    cfg, sd = _read_hf(Path(ckpt_dir))
    if "score.weight" not in sd or sd["score.weight"].shape[0] != 1:
        raise ValueError(f"{ckpt_dir}: not a one-label LlamaForSequenceClassification (score.weight [1, dim])")
    args = args_from_hf_config(cfg)
    rm = RewardModel(_build(args, from_hf_state_dict(sd, args), "cpu"), args.dim)
    with torch.no_grad():
        rm.head.weight.copy_(sd["score.weight"].to(rm.head.weight.dtype))
        rm.head.bias.zero_()
    return rm.eval(), args


def _architecture(cfg: object) -> str:
    archs = cfg.get("architectures") if isinstance(cfg, dict) else None
    return archs[0] if isinstance(archs, list) and archs and isinstance(archs[0], str) else CAUSAL


def _hf_architecture(d: Path) -> str | None:
    cfg = d / HF_CONFIG
    if not cfg.is_file():
        return None
    try:
        return _architecture(json.loads(cfg.read_text(encoding="utf-8")))
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"{cfg}: not valid JSON") from None


def is_reward_model(d: str | os.PathLike) -> bool:
    """Our reward-model folder (trunk + head files), or a HF LlamaForSequenceClassification folder."""
    return all((Path(d) / f).is_file() for f in RM_FILES) or _hf_architecture(Path(d)) == REWARD


def detect_layout(ckpt_dir: str | os.PathLike) -> str:
    d = Path(ckpt_dir)
    if (d / META_PARAMS).is_file() and (d / META_WEIGHTS).is_file():
        return "meta"
    if (d / HF_CONFIG).is_file():
        return "hf"
    raise FileNotFoundError(f"{d}: neither a Meta ({META_PARAMS}, {META_WEIGHTS}) nor a HF ({HF_CONFIG}) checkpoint")


def find_tokenizer(src: str | os.PathLike) -> Path | None:
    """The tokenizer that belongs to the checkpoint: tokenizer.model inside it, else the pipeline's tokenizer
    asset beside it (data/rlhf_v5 -> data/tokenizer/tokenizer.model). Nothing else (no $LLAMA_DATA_DIR):
    any other tokenizer must be named with --tokenizer, and check_tokenizer still compares its size."""
    src = Path(src)
    return next((p for p in (src / TOKENIZER, src.parent / "tokenizer" / TOKENIZER) if p.is_file()), None)


def _generation_config(args: ModelArgs) -> dict:
    # Greedy by default, as our generate(); the ids of llama_model.tokenizer (<s> 1, </s> 2).
    return {"bos_token_id": 1, "eos_token_id": 2, "do_sample": False, "max_length": args.max_seq_len}


def export_model(model: torch.nn.Module, args: ModelArgs, dst: str | os.PathLike,
                 tokenizer: str | os.PathLike | None) -> Path:
    """A model in memory -> a HF LlamaForCausalLM folder with generation config and tokenizer files."""
    from llama_model.hf_tokenizer import write_hf_tokenizer

    dst = Path(dst)
    save_hf(model, args, dst)
    write_text(dst / "generation_config.json", json.dumps(_generation_config(args), indent=2) + "\n")
    if tokenizer is not None:
        write_hf_tokenizer(tokenizer, dst, args.max_seq_len)
    return dst


def export_hf(src: str | os.PathLike, dst: str | os.PathLike, tokenizer: str | os.PathLike | None = None,
              reward: bool | None = None) -> Path:
    """Our checkpoint folder (Meta layout, or a reward model) -> a HF folder transformers loads as is.

    reward=None exports what the folder is; reward=False on a reward model is an error (a causal-LM export
    would silently drop the head). The folder is written under a temporary name and renamed; every file is
    mode 0644 (safetensors writes 0600)."""
    from llama_model.hf_tokenizer import write_hf_tokenizer
    from llama_model.model_card import finish_export

    src = Path(src)
    rm_src = is_reward_model(src)
    if reward is False and rm_src:
        raise ValueError(f"{src} is a reward model: it exports as {REWARD} (its scalar head), not as a causal "
                         "LM, which would drop the head; export it without --model-class causal-lm")
    if reward and not rm_src:
        raise ValueError(f"{src} is not a reward model (no {' / '.join(RM_FILES)})")
    if tokenizer is not None and (declared := checkpoint_vocab_size(src)) is not None:
        check_tokenizer(tokenizer, declared, src)       # before anything is loaded
    with atomic_path(Path(dst)) as tmp:
        if rm_src and detect_layout(src) == "hf":
            rm, args = load_hf_rm(src)
            save_hf_rm(rm, args, tmp)
        elif rm_src:
            from llama_model.reward import load_rm
            rm = load_rm(src)
            args = load_meta(src)[1]
            save_hf_rm(rm, args, tmp)
        else:
            model, args = load_meta(src) if detect_layout(src) == "meta" else load_hf(src)
            save_hf(model, args, tmp)
        write_text(tmp / "generation_config.json", json.dumps(_generation_config(args), indent=2) + "\n")
        if tokenizer is not None:
            check_tokenizer(tokenizer, args.vocab_size, src)
            write_hf_tokenizer(tokenizer, tmp, args.max_seq_len, pad_token="<unk>" if rm_src else None)
        finish_export(tmp, src)     # README.md model card, pad_token_id (llama_model/model_card.py)
        for f in tmp.iterdir():
            f.chmod(0o644)
        tmp.chmod(0o755)
    return Path(dst)


def import_hf(src: str | os.PathLike, dst: str | os.PathLike) -> dict:
    """A HF Llama folder -> our layout in dst: consolidated.00.pth + params.json, tokenizer.model when the
    source has one, head.safetensors + reward_model.json for a one-label sequence classifier, and
    hf_import.json (source path, architecture, config). Returns that info dict. Written atomically."""
    from llama_model.hf_check import read_hf_folder
    from llama_model.reward import save_rm

    src = Path(src)
    cfg, _ = read_hf_folder(src)       # refused here, before any tensor is read or allocated
    arch = _architecture(cfg)
    with atomic_path(Path(dst)) as tmp:
        if arch == REWARD:
            rm, args = load_hf_rm(src)
            save_rm(rm, args, tmp, extra={"imported_from": str(src)})
        elif arch == CAUSAL:
            model, args = load_hf(src)
            save_meta(model, args, tmp)
        else:
            raise ValueError(f"{src / HF_CONFIG}: architecture {arch!r}; {CAUSAL} or {REWARD} (1 label) expected")
        if (src / TOKENIZER).is_file():
            shutil.copyfile(src / TOKENIZER, tmp / TOKENIZER)
        info = {"source": str(src.resolve()), "architecture": arch, "params": args.params_json(),
                "tokenizer": (src / TOKENIZER).is_file(), "hf_config": cfg}
        write_text(tmp / "hf_import.json", json.dumps(info, indent=2, sort_keys=True) + "\n")
    return info


def convert(src: str | os.PathLike, dst: str | os.PathLike, to: str, tokenizer: str | os.PathLike | None = None) -> Path:
    """Convert a checkpoint folder to layout `to` ("hf" or "meta"); the source layout is detected."""
    if to not in ("hf", "meta"):
        raise ValueError(f"--to must be hf or meta, not {to!r}")
    layout = detect_layout(src)
    if to == "hf":
        return export_hf(src, dst, tokenizer)
    if layout == "hf":
        import_hf(src, dst)
        return Path(dst)
    model, args = load_meta(src)
    return save_meta(model, args, dst)


def import_checkpoint(src: str | os.PathLike, dst: str | os.PathLike, tokenizer: str | os.PathLike | None = None) -> dict:
    """Make dst our causal-LM checkpoint from src, in either layout (LLAMA_BASE_MODEL): a HF folder is
    converted, a Meta folder copied; hf_import.json records where it came from. When `tokenizer` (the
    pipeline's tokenizer.model) is given, the checkpoint must fit its vocabulary."""
    src = Path(src)
    if detect_layout(src) == "hf":
        info = import_hf(src, dst)
        if info["architecture"] != CAUSAL:
            shutil.rmtree(dst, ignore_errors=True)
            raise ValueError(f"{src}: a base model must be a {CAUSAL}, not a {info['architecture']}")
    else:
        with atomic_path(Path(dst)) as tmp:
            tmp.mkdir(parents=True)
            for name in (META_PARAMS, META_WEIGHTS, TOKENIZER):
                if (src / name).is_file():
                    shutil.copyfile(src / name, tmp / name)
            params = json.loads((src / META_PARAMS).read_text())
            info = {"source": str(src.resolve()), "architecture": "meta", "params": params,
                    "tokenizer": (src / TOKENIZER).is_file(), "hf_config": {}}
            write_text(tmp / "hf_import.json", json.dumps(info, indent=2, sort_keys=True) + "\n")
    if tokenizer is not None and Path(tokenizer).is_file():
        from sentencepiece import SentencePieceProcessor
        n = SentencePieceProcessor(model_file=str(tokenizer)).get_piece_size()
        if n > info["params"]["vocab_size"]:
            shutil.rmtree(dst, ignore_errors=True)
            raise ValueError(f"{src} has {info['params']['vocab_size']} embedding rows but the pipeline's tokenizer "
                             f"{tokenizer} has {n} pieces: train on that model's own tokenizer.model instead")
        own = Path(dst) / TOKENIZER
        info["same_tokenizer"] = own.is_file() and own.read_bytes() == Path(tokenizer).read_bytes()
    return info
