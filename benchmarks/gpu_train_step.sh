#!/bin/bash
# Device check (issue 7): the GENMO train step at full size (1024 x 16) in bf16 on one GPU.
# The device image has jax/flax/optax but neither grain nor ml_collections, so prepare here:
#
#   mkdir -p .gpu_train && echo /.gpu_train/ >> .git/info/exclude && echo /.whl/ >> .git/info/exclude
#   python benchmarks/train_step.py --config configs/tiny.py --shards /tmp/proc --batch 32 \
#       --save-batch .gpu_train/batch.npz && cp /tmp/proc/stats.npz .gpu_train/
#   python -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --platform manylinux2014_x86_64 -d .whl ml_collections==1.1.0
#
# then run it there as one call: command `bash benchmarks/gpu_train_step.sh`, carry
# [".gpu_train", ".whl"], timeout_s 600. FLOPs: XLA analyses the lowered program on CPU only,
# so pass the CPU count of the same sizes (`--compile-only` here) as FLOPS_FULL (GFLOP/step):
# full size, B=64, L=120, bf16: 43213.22 GFLOP/step (model FLOPs, no remat recompute; measured
# 2026-11-27, the default below).
# Measured on an H100 (RESULTS.md, "Train step", session 6): with `model.remat=true` at B=64 the
# step compiles in 2-2.5 min (1 987 fusions) and runs at 0.231-0.235 s/step (~275 samples/s,
# 23-24 % MFU); without remat B=64 needs 50.9 GiB of temporaries and runs out of memory. So run
# with remat and >= 300 s for the benchmark. FULL_SET's default adds the remat policy that
# stores the matmul outputs (session 6; not yet measured on a GPU): FULL_SET=model.remat=true
# gives the session-6 figure's plain remat, FULL_SET= no remat.
# PROFILE=1 also traces 3 steps and prints where the device time goes (trace_summary.py);
# HLO=1 writes the compiled step's HLO to $OUT, and with PROFILE=1 the kernels' time is also
# summed by the genmo_jax source line of each fusion. Next device session, one call (~5 min):
# `PROFILE=1 HLO=1 bash benchmarks/gpu_train_step.sh`.
set -uo pipefail
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
  .whl/*.whl && export PYTHONPATH=/tmp/site || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import jax, flax, optax; print('jax', jax.__version__, 'flax', flax.__version__, \
'optax', optax.__version__, jax.devices())" | tee -a "$OUT/gpu.txt"
D=.gpu_train
FULL_SET=${FULL_SET-model.remat=true model.remat_policy=dots_with_no_batch_dims_saveable}
bench() {   # name timeout_s args...
  local name=$1 limit=$2; shift 2
  echo "=== $name ($(date +%T))"
  timeout "$limit" python3 benchmarks/train_step.py --batch-npz $D/batch.npz \
    --stats $D/stats.npz --window 120 --steps 6 --dtype bfloat16 "$@" 2>&1 \
    | grep -v "^[IW][0-9]" | tee "$OUT/$name.log"
}
bench full_b64 ${FULL_TIMEOUT:-540} --config configs/full.py --batch 64 \
  --flops-per-step "${FLOPS_FULL:-43213.22}" ${FULL_SET:+--set $FULL_SET} \
  ${PROFILE:+--profile /tmp/trace} ${HLO:+--hlo-out "$OUT/full_b64.hlo.txt.gz"}
if [ -n "${PROFILE:-}" ]; then   # the raw trace too, for trace_summary.py here
  find /tmp/trace -name perfetto_trace.json.gz -exec cp {} "$OUT/" \;
fi
echo "=== done ($(date +%T))"
