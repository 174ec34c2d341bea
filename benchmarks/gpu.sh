#!/usr/bin/env bash
# The GPU figures in one run, under 8 minutes on one CUDA card: encode / train speed against
# sentence-transformers, bf16 step time and model FLOP utilisation of a transformer tower, and the Omniglot
# prototypical recipe to 92% (skipped, and said so, without its data). Writes benchmarks/results/gpu.json.
#
#   benchmarks/gpu.sh [--model DIR] [--data-dir DIR] [--out FILE]   # on a CUDA machine
#   benchmarks/gpu.sh --dry-run --out /tmp/gpu.json                  # on a CPU: toy sizes, seconds (CI)
#
# The model: --model or $PAIRSIM_MINILM (all-MiniLM-L6-v2), else a random BERT of MiniLM's shape built here.
# Data: --data-dir or $PAIRSIM_DATA_DIR (stsbenchmark/, omniglot/), else generated sentences and no Omniglot.
# Python: $PYTHON, else .venv/bin/python where present, else python3. Details: benchmarks/gpu_bench.py.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export TOKENIZERS_PARALLELISM=false
exec "$PY" benchmarks/gpu_bench.py "$@"
