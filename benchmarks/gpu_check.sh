#!/usr/bin/env bash
# The GPU check (issue 25), on one CUDA device, in under 8 minutes; every part bounded by `timeout`:
#   1. the CUDA-only tests (pytest -m gpu): bf16 training step, selective recomputation, the stage jobs' SFT/RM/PPO
#      steps, and the same steps with FSDP2-sharded models on a 1-rank NCCL process group;
#   2. bf16 MFU of pretraining a ~1B model (dim 2048, 16 layers, 32k vocabulary, 2048-token rows) with FSDP2
#      (--parallel fsdp: FSDP2 with its bf16 MixedPrecisionPolicy even on one rank), torch.compile'd blocks;
#      reference: the goal of 45% MFU (bf16 dense peak: 989 TFLOP/s H100/H200, 312 A100);
#   3. greedy generation tokens/s, ours vs transformers' generate (reference), same weights, bf16.
#     bash benchmarks/gpu_check.sh             # from the repository root
#     GPU_CHECK_DRY=1 bash benchmarks/gpu_check.sh   # on a CPU: the same commands, tiny and short (checks the script)
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python )}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
OUT=${OUT:-$(mktemp -d)}
status=0
part() { echo; echo "== $1"; }

if [ -n "${GPU_CHECK_DRY:-}" ]; then
    DEVICE=cpu; MODEL="--set model.dim=64 --set model.n_layers=2 --set model.n_heads=4 --set model.n_kv_heads=4"
    TRAIN="--set train.seq_len=128 --set train.micro_batch=2 --set train.batch_tokens=512"; STEPS=3; COMPILE=""
    GEN="--dim 64 --layers 2 --heads 4 --kv-heads 2 --batch 2 --prompt-len 8 --new-tokens 4 --reps 1"
else
    DEVICE=cuda; $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
        || { echo "gpu_check: no CUDA device"; exit 2; }
    $PY -c "import torch; print('device:', torch.cuda.get_device_name(0), '| torch', torch.__version__)"
    MODEL="--set model.dim=2048 --set model.n_layers=16 --set model.n_heads=16 --set model.n_kv_heads=16 \
--set model.vocab_size=32000 --set model.multiple_of=256 --set model.max_seq_len=2048"
    TRAIN="--set train.seq_len=2048 --set train.micro_batch=4 --set train.batch_tokens=32768 --set train.warmup_steps=10"
    STEPS=30; COMPILE="--compile"
    GEN="--dim 2048 --layers 16 --heads 16 --kv-heads 8 --batch 8 --prompt-len 128 --new-tokens 128 --reps 3"
fi

part "1. CUDA-only tests (pytest -m gpu)"
if [ -n "${GPU_CHECK_DRY:-}" ]; then echo "(dry: skipped)"; else
    timeout 150 $PY -m pytest -q -m gpu tests/llama_model -p no:cacheprovider 2>&1 | tail -15
    [ "${PIPESTATUS[0]}" = 0 ] || status=1
fi

part "2. pretraining MFU, ~1B parameters, bf16, FSDP2 (reference: goal >= 45% MFU)"
timeout 240 $PY -m llama_model.train --profile small --synthetic --out "$OUT/mfu" --device $DEVICE --parallel fsdp \
    --ac none --steps $STEPS --no-resume --eval-batches 0 $COMPILE $MODEL $TRAIN \
    --set train.checkpoint_every=100000 --set train.eval_every=100000 > "$OUT/mfu.log" 2>&1
rc=$?
grep "^{" "$OUT/mfu.log" | tail -1 | $PY -c "
import json, sys
try:
    s = json.loads(sys.stdin.read())
except ValueError:
    sys.exit('no summary (see $OUT/mfu.log)')
print(f\"{s['parameters'] / 1e9:.2f}B parameters, {s['tokens_per_s']:,.0f} tokens/s, MFU {100 * s['mfu']:.1f}% \"
      f\"(reference: goal >= 45%), loss {s['first_loss']:.2f} -> {s['final_loss']:.2f}\")" || status=1
[ $rc = 0 ] || { tail -20 "$OUT/mfu.log"; status=1; }

part "3. generation tokens/s (reference: transformers generate)"
if [ -n "${GPU_CHECK_DRY:-}" ]; then echo "(dry: needs CUDA, skipped)"; else
    timeout 120 $PY benchmarks/gpu_generate.py $GEN || status=1
fi

echo; echo "gpu_check: exit $status (logs in $OUT)"
exit $status
