"""What the benchmarks share: a one-line description of the machine and libraries they ran on,
and A/B-interleaved timing."""

import os
import platform
import time
from collections.abc import Callable


def describe() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    import keras

    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
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
