"""The llama.cpp build takes its x86 extensions from the CPU it is built on (scripts/llamacpp-cmake-args.sh): a
machine without AVX-512 gets none of it, one with it gets it, and AMX is off even where the CPU lists it."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ZEN2 = ("fpu vme de pse tsc msr pae mce cx8 apic sep mtrr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm "
        "pni pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand avx2 bmi1 bmi2 sha_ni")
SAPPHIRE_RAPIDS = ZEN2 + (" avx512f avx512dq avx512cd avx512bw avx512vl avx512vbmi avx512_vnni avx512_bf16"
                          " amx_bf16 amx_tile amx_int8")


def _flags(tmp_path: Path, cpu_flags: str) -> dict[str, str]:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {cpu_flags}\n")
    printed = subprocess.run(["bash", str(ROOT / "scripts" / "llamacpp-cmake-args.sh"), str(cpuinfo)],
                             capture_output=True, text=True, check=True).stdout
    return dict(arg.removeprefix("-D").split("=") for arg in printed.split())


def test_a_cpu_without_avx512_gets_a_build_without_it(tmp_path):
    flags = _flags(tmp_path, ZEN2)
    assert flags["GGML_AVX2"] == flags["GGML_FMA"] == flags["GGML_F16C"] == "ON"
    assert {flags[name] for name in ("GGML_AVX512", "GGML_AVX512_VNNI", "GGML_AVX512_BF16", "GGML_AVX512_VBMI")} \
        == {"OFF"}
    assert flags["GGML_NATIVE"] == "OFF"


def test_a_cpu_with_avx512_and_amx_gets_avx512_and_never_amx(tmp_path):
    flags = _flags(tmp_path, SAPPHIRE_RAPIDS)
    assert flags["GGML_AVX512"] == flags["GGML_AVX512_VNNI"] == flags["GGML_AVX512_BF16"] == "ON"
    assert {flags[name] for name in ("GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")} == {"OFF"}


def test_avx512_needs_all_five_of_the_extensions_ggml_compiles_for_it(tmp_path):
    flags = _flags(tmp_path, ZEN2 + " avx512f avx512cd avx512_vnni")  # no bw, dq or vl
    assert flags["GGML_AVX512"] == "OFF"
