#!/usr/bin/env bash
# Sets up the environments (scripts/setup.sh) and runs the test suite:
#   1. every test except the slow learning tests, on the main environment;
#   2. the parity tests against torch/smplx/transformers (marker `ref`) in the reference environment.
# The slow learning tests run with: .venv/bin/python -m pytest -m slow
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pytest -q -m "not slow and not ref" "$@"
if [ -x .venv-ref/bin/python ]; then
  .venv-ref/bin/python -m pytest -q -m "ref and not slow" "$@"
fi
