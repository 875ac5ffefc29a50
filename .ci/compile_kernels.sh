#!/usr/bin/env bash
# Compile every kernel variant the GPU can run with nvcc for sm_80 and sm_90, failing on any
# error or warning. No GPU needed: this catches syntax and type errors in CI. At run time the
# same sources are compiled by NVRTC through CuPy (minitorch/cuda/loader.py); the variants and
# their options come from the loader itself (loader.builds(), loader.compile_options), so this
# script compiles exactly what can launch: both dtypes, and conv_direct.cu in every tile shape.
set -euo pipefail
cd "$(dirname "$0")/.."

NVCC="${NVCC:-nvcc}"
PYTHON="${PYTHON:-python3}"
if ! command -v "$NVCC" >/dev/null 2>&1; then
    echo "compile_kernels: nvcc not found; skipping the CUDA compile check"
    exit 0
fi

# One line per variant: the file, then the loader's NVRTC options for it.
builds="$("$PYTHON" -c '
from minitorch.cuda import loader
for filename, dtype, defines in loader.builds():
    print(filename, *loader.compile_options(dtype, defines))
')"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
count=0
while read -r src opts; do
    for arch in sm_80 sm_90; do
        # shellcheck disable=SC2086  (opts is a list of options)
        "$NVCC" -arch="$arch" -cubin -Werror all-warnings -x cu $opts \
            -o "$out/k.cubin" "kernels/$src"
        count=$((count + 1))
    done
done <<<"$builds"
echo "compile_kernels: $count builds passed, $(wc -l <<<"$builds") variants x (sm_80, sm_90)" \
     "($("$NVCC" --version | tail -1))"
