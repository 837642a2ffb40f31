"""What a run sends to its tracking store, held back while the store does not answer.

A tracking server can go away in the middle of a run (a restart, a network cut). Training must
not stop or lose its numbers for it: metrics and uploads go through an outbox that sends what it
holds, keeps it when a send fails, and tries again after a pause, so a server that is away
costs one failed attempt per pause, not a stalled step; the end of the run waits for it.
"""

import sys
import time
from collections.abc import Callable, Sequence

MAX_BATCH = 1000  # MLflow's limit of metrics per log_batch call


class Outbox:
    """Metrics (``add_metrics``, sent in batches with ``send_metrics(batch)``) and other calls
    to the store (``add_call(call)``: an upload, a text), each sent as soon as it is added.

    A failed send keeps what is held, says once on stderr that the store (``where``) is away,
    and waits ``retry_seconds`` before the next attempt; the first send that works after an
    outage says so. ``flush(patience)`` keeps trying for up to ``patience`` seconds and returns
    how many items are still held.
    """

    def __init__(
        self,
        send_metrics: Callable[[Sequence], None],
        where: str,
        retry_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.send_metrics = send_metrics
        self.where = where
        self.retry_seconds = retry_seconds
        self.clock = clock
        self.metrics: list = []
        self.calls: list[Callable[[], object]] = []
        self._next_try = 0.0
        self._away = False

    @property
    def held(self) -> int:
        return len(self.metrics) + len(self.calls)

    def add_metrics(self, metrics: Sequence) -> None:
        self.metrics.extend(metrics)
        self._send_if_due()

    def add_call(self, call: Callable[[], object]) -> None:
        self.calls.append(call)
        self._send_if_due()

    def flush(self, patience: float = 0.0, pause: float = 5.0) -> int:
        deadline = self.clock() + patience
        while not self._send_held() and self.clock() < deadline:
            time.sleep(min(pause, max(deadline - self.clock(), 0.0)))
        return self.held

    def _send_if_due(self) -> None:
        if self.clock() >= self._next_try:
            self._send_held()

    def _send_held(self) -> bool:
        try:
            while self.metrics:
                self.send_metrics(self.metrics[:MAX_BATCH])
                del self.metrics[:MAX_BATCH]
            while self.calls:
                self.calls[0]()
                del self.calls[0]
        except Exception as error:  # the store is away: requests, MLflow and OS errors alike
            self._next_try = self.clock() + self.retry_seconds
            if not self._away:
                print(
                    f"warning: the tracking store {self.where} does not answer "
                    f"({type(error).__name__}); training goes on and what it logs is held "
                    "to be sent when the store is back.",
                    file=sys.stderr,
                    flush=True,
                )
            self._away = True
            return False
        if self._away:
            print(f"the tracking store {self.where} is back; held metrics sent.", file=sys.stderr)
        self._away = False
        return True
