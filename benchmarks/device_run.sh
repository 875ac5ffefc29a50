#!/usr/bin/env bash
# The whole device check in one command, for a lent GPU machine (benchmarks/README.md):
#
#     run(command="bash benchmarks/device_run.sh", carry=[".device_data"], timeout_s=480)
#
# 1. checks that every package minitorch and its GPU tests import is there (the device image
#    has them; nothing can be downloaded there), installing any wheels carried in .whl/;
# 2. runs benchmarks/gpu_suite.py: environment, every op and kernel vs references (judged
#    against tolerances), SimpLeNet training steps vs PyTorch (eager and as a captured CUDA
#    graph), one full MNIST epoch from the carried .device_data/mnist, and the whole CUDA
#    test suite (pytest -m cuda) with the time left;
# 3. leaves everything in $OUT (the folder that comes back): report.json, report.md,
#    pytest.xml (the CUDA tests' JUnit log) and device_run.log (all console output).
#
# Exit status: the suite's (non-zero on any failure, missing data or missing package).
# Extra arguments go to gpu_suite.py; `bash benchmarks/device_run.sh --dry-run-cpu` checks
# the script on a machine without a GPU (OUT defaults to a temporary folder).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$(mktemp -d)}"
export OUT
mkdir -p "$OUT"
LOG="$OUT/device_run.log"
PY="${PYTHON:-python3}"
# The checkout is used in place (no install): kernels/ is read from the repo (cuda/loader.py).
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
# The tests' data root (../shared does not travel) and CI's derandomized hypothesis profile,
# so a red device run can be reproduced (tests/conftest.py).
[[ -d .device_data ]] && export MINITORCH_DATA="${MINITORCH_DATA:-$PWD/.device_data}"
export CI="${CI:-1}"

{
    echo "[device_run] $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname), $("$PY" --version)"
    if compgen -G ".whl/*.whl" >/dev/null; then
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/site .whl/*.whl && export PYTHONPATH="$PYTHONPATH:/tmp/site"
    fi
    dry=0
    [[ " $* " == *" --dry-run-cpu "* ]] && dry=1
    missing="$(DRY=$dry "$PY" - <<'EOF'
import importlib.util, os
need = ["numpy", "numba", "safetensors", "threadpoolctl", "tqdm",   # minitorch itself
        "pytest", "hypothesis", "torch", "torchvision"]             # its GPU tests and suite
need += [] if os.environ["DRY"] == "1" else ["cupy"]
print(" ".join(n for n in need if importlib.util.find_spec(n) is None))
EOF
)"
    if [[ -n "$missing" ]]; then
        echo "[device_run] FAILED: not importable here: $missing (no network on the device:" \
             "carry them as wheels in .whl/: benchmarks/README.md)"
        exit 3
    fi
    if [[ $dry == 0 && ! -d .device_data/mnist ]]; then
        echo "[device_run] FAILED: .device_data/mnist is missing: copy the MNIST folder there" \
             "and name .device_data in carry (benchmarks/README.md)"
        exit 4
    fi
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || true
    # 420 s for the suite: the whole call stays inside 8 minutes with start-up and imports.
    data=()      # a dry run without the carried folder falls back to $MINITORCH_DATA
    [[ -d .device_data/mnist ]] && data=(--data .device_data)
    "$PY" benchmarks/gpu_suite.py ${data[@]+"${data[@]}"} --budget-s 420 \
        --junit "$OUT/pytest.xml" "$@"
    rc=$?
    echo "[device_run] gpu_suite exit status $rc; files in $OUT: $(ls "$OUT" | tr '\n' ' ')"
    exit $rc
} 2>&1 | tee "$LOG"
exit "${PIPESTATUS[0]}"
