#!/usr/bin/env bash
# Compile every kernels/*.cu with nvcc for sm_80 and sm_90, in both dtypes, failing on any error
# or warning-as-error. No GPU needed: this catches syntax and type errors in CI. At run time
# the same sources are compiled by NVRTC through CuPy (minitorch/cuda/loader.py) with the same
# -Dscalar_t=... defines; conv_direct.cu is also built in every tile shape minitorch/cuda/ops.py
# can pick (CONV_TILES below must list them).
set -euo pipefail
cd "$(dirname "$0")/.."

NVCC="${NVCC:-nvcc}"
if ! command -v "$NVCC" >/dev/null 2>&1; then
    echo "compile_kernels: nvcc not found; skipping the CUDA compile check"
    exit 0
fi

# Tile shapes (BM BN TM TN) of conv_direct.cu; keep in sync with _CONV_TILES in cuda/ops.py.
CONV_TILES=("16 64 2 4" "32 64 4 4" "64 64 4 4" "32 128 4 4")

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
count=0
compile() {  # compile SRC ARCH DEFINES...
    local src="$1" arch="$2"; shift 2
    "$NVCC" -arch="$arch" -cubin -std=c++17 -Werror all-warnings -x cu "$@" \
        -o "$out/k.cubin" "$src"
    count=$((count + 1))
}
for src in kernels/*.cu; do
    for arch in sm_80 sm_90; do
        for t in float double; do
            if [[ "$(basename "$src")" == conv_direct.cu ]]; then
                for tile in "${CONV_TILES[@]}"; do
                    read -r bm bn tm tn <<<"$tile"
                    compile "$src" "$arch" -Dscalar_t="$t" -DCONV_BM="$bm" -DCONV_BN="$bn" \
                        -DCONV_TM="$tm" -DCONV_TN="$tn"
                done
            else
                compile "$src" "$arch" -Dscalar_t="$t"
            fi
        done
    done
    echo "compile_kernels: $src ok (sm_80, sm_90; float, double)"
done
echo "compile_kernels: $count builds passed ($("$NVCC" --version | tail -1))"
