#!/usr/bin/env bash
# Runs N JAX processes on this machine, joined over loopback, each with D CPU devices: the same
# program a multi-host pod runs, for testing multi-host code without a cluster.
#
#   launch/local_multiprocess.sh N D [-- TRAIN_ARGS...]
#   launch/local_multiprocess.sh 2 4 -- --config=configs/tiny.py --workdir=runs/mp
#
# Process 0 prints to this terminal; process i > 0 logs to $LOG_DIR/process_i.log (default: the
# current directory). Env: PYTHON (default: python), JAX_PORT (default: a random free-ish port).
# Exit status: the first non-zero status of any process (42 = preempted, checkpoint saved).
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 NUM_PROCESSES DEVICES_PER_PROCESS [-- genmo_jax.train args]" >&2
  exit 2
fi
num_processes=$1
devices_per_process=$2
shift 2
if [[ "${1:-}" == "--" ]]; then shift; fi

port=${JAX_PORT:-$((20000 + RANDOM % 20000))}
log_dir=${LOG_DIR:-.}
mkdir -p "$log_dir"
python_bin=${PYTHON:-python}

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup INT TERM

for ((i = 0; i < num_processes; i++)); do
  if [[ $i -eq 0 ]]; then out=/dev/stdout; err=/dev/stderr
  else out="$log_dir/process_$i.log"; err="$log_dir/process_$i.log"; fi
  JAX_COORDINATOR_ADDRESS="127.0.0.1:$port" \
  JAX_NUM_PROCESSES="$num_processes" \
  JAX_PROCESS_ID="$i" \
  JAX_PLATFORMS=cpu \
  XLA_FLAGS="--xla_force_host_platform_device_count=$devices_per_process" \
    "$python_bin" -m genmo_jax.train "$@" >"$out" 2>"$err" &
  pids+=($!)
done

status=0
for pid in "${pids[@]}"; do
  rc=0
  wait "$pid" || rc=$?
  if [[ $status -eq 0 && $rc -ne 0 ]]; then status=$rc; fi
done
exit "$status"
