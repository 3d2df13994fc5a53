#!/usr/bin/env bash
# CMake flags for building llama.cpp (llama-cpp-python) on this machine: each x86 extension on only where the CPU
# lists it, AMX always off. Why not GGML_NATIVE: machines here list AMX yet stop the process at its first tile
# instruction (invalid opcode), and -march=native would turn AMX on. Why not a fixed AVX-512 list: CI and
# developer machines differ (Intel with AMX, AMD EPYC with or without AVX-512), and a build with an extension the
# CPU lacks dies with SIGILL as the server loads its model. The build is for the machine it runs on (`make test`
# builds it in the checkout's .venv), so its flags come from the machine.
set -euo pipefail

cpuinfo=${1:-/proc/cpuinfo}  # another machine's cpuinfo, to see what it would get
flags=" $(grep -m1 '^flags' "$cpuinfo" 2>/dev/null | cut -d: -f2 || true) "  # none readable: a plain build
has() { [[ "$flags" == *" $1 "* ]]; }
# on_if OPTION EXTENSION...: the option on only where the CPU lists every extension it compiles for.
on_if() {
  local option=$1; shift
  for extension in "$@"; do has "$extension" || { echo -n " -D$option=OFF"; return; }; done
  echo -n " -D$option=ON"
}

echo -n "-DGGML_NATIVE=OFF"
on_if GGML_AVX avx
on_if GGML_AVX2 avx2
on_if GGML_FMA fma
on_if GGML_F16C f16c
on_if GGML_AVX512 avx512f avx512cd avx512vl avx512dq avx512bw  # ggml compiles all five for GGML_AVX512
on_if GGML_AVX512_VBMI avx512f avx512vbmi
on_if GGML_AVX512_VNNI avx512f avx512_vnni
on_if GGML_AVX512_BF16 avx512f avx512_bf16
echo " -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
