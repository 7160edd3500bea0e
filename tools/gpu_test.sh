#!/usr/bin/env bash
# The GPU check behind `make gpu-test` (and the GPU workflow, .github/workflows/gpu.yml).
#
#   make gpu-test                     # on any machine with an NVIDIA GPU and its driver
#   TORCH_CUDA=cu126 make gpu-test    # another CUDA build of torch (the tag is set in the Makefile)
#   GPU_BOOK=0 make gpu-test          # skip the book build on the GPU
#
# 1. CUDA or nothing: if torch cannot see a GPU, stop at once with a message that says why.
#    (A venv holding the CPU build of torch on a machine whose `nvidia-smi` works gets the
#    CUDA build first: `make gpu-torch`, the one install step.)
# 2. RNNCOURSE_REQUIRE_CUDA=1, so rnncourse.utils.try_gpu() raises rather than falling back
#    to the CPU: nothing below can silently be a CPU run.
# 3. The unit tests, the `cuda`-marked ones included (-rs lists any skip).
# 4. nbval over every notebook (--nbval-lax, the stored outputs), which keeps the run it
#    checked (--nbval-save _build/executed, see conftest.py); per-notebook times go to
#    _build/gpu/notebook_times.json, a failing notebook's traceback to
#    _build/executed/reports/.
# 5. The book built from that same run (GPU_BOOK=1, the default; tools/build_book.py, no
#    second execution): its Execution statistics page shows the device of every chapter.
# 6. The throughput benchmark on CUDA: _build/gpu/rnn_throughput.json.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${TORCH_CUDA:-}" ]]; then
    echo "gpu-test: run this as \`make gpu-test\` (the Makefile sets TORCH_CUDA, the CUDA build of torch)" >&2
    exit 2
fi
PY=${PYTHON_BIN:-.venv/bin/python}
OUT=_build/gpu
GPU_BOOK=${GPU_BOOK:-1}

cuda_status() {  # prints one line about torch and CUDA; exit 0 only when a GPU is usable
    "$PY" - <<'PY'
import sys
import torch
if torch.cuda.is_available():
    print(f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees {torch.cuda.device_count()} GPU(s): "
          + ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())))
    sys.exit(0)
print(f"torch {torch.__version__} (built with CUDA {torch.version.cuda or 'none'}): "
      "torch.cuda.is_available() is False")
sys.exit(1 if torch.version.cuda is None else 3)
PY
}

set +e
status=$(cuda_status)
code=$?
set -e
if [[ $code -eq 1 ]] && command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu-test: $status; this machine has an NVIDIA GPU, so installing the $TORCH_CUDA build of torch"
    make --no-print-directory gpu-torch TORCH_CUDA="$TORCH_CUDA"
    set +e
    status=$(cuda_status)
    code=$?
    set -e
fi
if [[ $code -ne 0 ]]; then
    {
        echo "gpu-test: no usable CUDA GPU: $status."
        if ! command -v nvidia-smi >/dev/null 2>&1; then
            echo "  nvidia-smi is not installed: this machine has no NVIDIA driver (or no GPU)."
        elif ! nvidia-smi -L >/dev/null 2>&1; then
            echo "  nvidia-smi fails: the driver cannot reach a GPU."
        else
            echo "  The GPU is there but this torch cannot use it: its CUDA build may need a newer driver;"
            echo "  try an older CUDA build: \`make gpu-torch TORCH_CUDA=<tag>\` (tags: pytorch.org), then \`make gpu-test\`."
        fi
        echo "  make gpu-test runs only on a CUDA machine; on a CPU, use \`make test\`."
    } >&2
    exit 1
fi
echo "gpu-test: $status"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv

export RNNCOURSE_REQUIRE_CUDA=1
mkdir -p "$OUT"

echo "== gpu-test: unit tests, the cuda-marked ones included"
"$PY" -m pytest tests -rs --junitxml="$OUT/unit-tests.xml"

echo "== gpu-test: nbval over every notebook, on CUDA"
rm -f _build/executions.log
set +e
RNNCOURSE_EXECUTION_LOG="$PWD/_build/executions.log" \
    "$PY" -m pytest book --nbval-lax --nbval-save _build/executed --junitxml="$OUT/nbval.xml"
nbval_status=$?
set -e
"$PY" - _build/executed/run.json "$OUT/notebook_times.json" <<'PY'
import json, sys
run = json.load(open(sys.argv[1], encoding="utf-8"))
times = {name: r["seconds"] for name, r in run["notebooks"].items()}
with open(sys.argv[2], "w", encoding="utf-8") as f:
    json.dump({"device": "cuda", "run_id": run["run_id"], "seconds_per_notebook": times,
               "status": {name: r["status"] for name, r in run["notebooks"].items()}},
              f, indent=2)
for name, seconds in times.items():
    print(f"{name:<40}{seconds:8.1f} s  {run['notebooks'][name]['status']}")
print(f"{'total':<40}{sum(times.values()):8.1f} s")
PY
[[ $nbval_status -eq 0 ]] || { echo "gpu-test: nbval failed (reports in _build/executed/reports/)" >&2; exit 1; }

if [[ "$GPU_BOOK" != "0" ]]; then
    echo "== gpu-test: the book, built from that run (_build/html)"
    "$PY" tools/build_book.py --executed _build/executed --execution-log _build/executions.log
fi

echo "== gpu-test: throughput benchmark on CUDA"
"$PY" benchmarks/rnn_throughput.py --device cuda --json "$OUT/rnn_throughput.json"
echo "gpu-test: passed; results in $OUT/"
