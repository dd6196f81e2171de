#!/usr/bin/env bash
# The embedded default, end to end on one CPU, no licensed file and no download at run time:
#   procedural motion world -> normalisation statistics -> train configs/tiny.py
#   -> export the EMA params -> sample a two-caption timeline -> npz + BVH + MP4 preview.
# Rerunning resumes: existing shards are kept and training continues to the same total.
# Knobs (environment): GENMO_RUN (output folder, default runs/quickstart), GENMO_CLIPS (2000),
# GENMO_STEPS (total training steps, default from configs/tiny.py).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${GENMO_RUN:-runs/quickstart}
CLIPS=${GENMO_CLIPS:-2000}
GENMO_SKIP_REF=1 bash scripts/setup.sh
PY=.venv/bin/python
export JAX_PLATFORMS=cpu

echo "== 1/5 procedural motion world: $CLIPS clips -> $RUN/data/procedural"
$PY -m genmo_jax.data.procedural --clips "$CLIPS" --out "$RUN/data/procedural" --seed 0
echo "== 2/5 normalisation statistics"
[ -f "$RUN/data/procedural/stats.npz" ] || $PY -m genmo_jax.data.stats --shards "$RUN/data/procedural"
echo "== 3/5 training configs/tiny.py -> $RUN/train"
STEPS_FLAG=()
[ -n "${GENMO_STEPS:-}" ] && STEPS_FLAG=(--config.train.num_steps="$GENMO_STEPS")
$PY -m genmo_jax.train --config=configs/tiny.py --workdir "$RUN/train" \
  --config.data.shard_dirs.procedural="$RUN/data/procedural" "${STEPS_FLAG[@]}"
echo "== 4/5 export -> $RUN/export"
$PY -m genmo_jax.export --workdir "$RUN/train" --out "$RUN/export" --stats "$RUN/data/procedural/stats.npz"
echo "== 5/5 sampling docs/examples/two_captions.json -> $RUN/sample"
$PY -m genmo_jax.sample --params "$RUN/export" --timeline docs/examples/two_captions.json --out "$RUN/sample"
echo
echo "Done. Motion: $RUN/sample/motion.npz (AMASS keys), $RUN/sample/motion.bvh (Blender), preview $RUN/sample/motion.mp4"
echo "Training metrics: $RUN/train/metrics.jsonl; exported params: $RUN/export"
