"""`make ui` on a free port of 127.0.0.1, over a given store, for the duration of a test."""

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator

from conftest import ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def make_ui(store: str | None = None, ready_within: float = 120) -> Iterator[tuple[int, int]]:
    """Yields ``(port, pid of make)`` once ``/health`` answers; stops the whole process group."""
    port = free_port()
    command = ["make", "-s", "ui", f"PORT={port}"] + ([f"STORE={store}"] if store else [])
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline, ready = time.monotonic() + ready_within, False
        while time.monotonic() < deadline and not ready:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as page:
                    ready = page.status == 200
            except OSError:
                time.sleep(0.5)
        assert ready, f"the UI did not answer within {ready_within:.0f} s"
        yield port, process.pid
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
