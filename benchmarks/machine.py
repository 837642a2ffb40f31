"""A one-line description of the machine and libraries a benchmark ran on."""

import os
import platform


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
