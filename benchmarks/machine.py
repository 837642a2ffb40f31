"""What the benchmarks share: a one-line description of the machine and libraries they ran on,
and A/B-interleaved timing."""

import os
import platform
import re
import time
from collections.abc import Callable


def _cpuinfo(field: str) -> str | None:
    """The value of ``field`` in /proc/cpuinfo (first processor), or None where there is none."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith(field):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """The CPU's model name as /proc/cpuinfo gives it (``platform.processor()`` elsewhere)."""
    return _cpuinfo("model name") or platform.processor() or "unknown CPU"


def cpu_kind() -> str:
    """The CPU's vendor and family for file names: ``amd_epyc``, ``intel_xeon``."""
    words = re.sub(r"\((R|TM)\)", "", cpu_model()).split()
    return "_".join(words[:2]).lower() or "unknown_cpu"


def cpu_extensions() -> str:
    """The matrix-relevant instruction sets the CPU has beyond AVX2 (AVX-512, AMX-BF16)."""
    flags = (_cpuinfo("flags") or "").split()
    named = {"avx512f": "AVX-512", "avx512_bf16": "AVX512-BF16", "amx_bf16": "AMX-BF16"}
    return ", ".join(name for flag, name in named.items() if flag in flags)


def describe() -> str:
    import keras

    extensions = cpu_extensions()
    return (
        f"{cpu_model()}{f' ({extensions})' if extensions else ''}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"Keras {keras.__version__} on {keras.backend.backend()}"
    )


def interleaved_times(
    candidates: dict[str, Callable[[], object]], repeats: int, warmup: int, calls: int = 1
) -> dict[str, list[float]]:
    """Seconds per call of each candidate: after ``warmup`` calls each, the candidates take
    turns for ``repeats`` rounds of ``calls`` calls, so the machine's drift hits them alike."""
    for call in candidates.values():
        for _ in range(warmup):
            call()
    times = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, call in candidates.items():
            start = time.perf_counter()
            for _ in range(calls):
                call()
            times[name].append((time.perf_counter() - start) / calls)
    return times
