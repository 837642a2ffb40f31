"""`make ui` is light: the MLflow UI on 127.0.0.1 with one worker and no job runner."""

import os
import socket
from pathlib import Path

import pytest
from ui_server import make_ui


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (by /proc's parent links)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def listening_addresses(port: int) -> set[str]:
    """The IPv4 and IPv6 addresses with a socket listening on ``port`` (from /proc/net)."""
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                if len(raw) == 4:
                    found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                else:
                    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                    found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_make_ui_serves_on_localhost_with_one_worker_and_no_job_runner():
    with make_ui() as (port, pid):
        pythons = [
            child
            for child in descendants(pid)
            if b"python" in Path(f"/proc/{child}/cmdline").read_bytes()
        ]
        assert len(pythons) == 2, "the mlflow command and one uvicorn worker, nothing else"
        assert listening_addresses(port) == {"127.0.0.1"}
