"""Start-up without TensorFlow's native banner.

With oneDNN on (``import keraslab`` turns it on), each of TensorFlow's two native libraries
prints "oneDNN custom operations are on ..." while it loads, behind absl's notice that logging is
not initialised yet: four lines on file descriptor 2, written before ``TF_CPP_MIN_LOG_LEVEL``
applies. :func:`import_backend` imports Keras (and so its backend) with descriptor 2 captured,
and writes back every captured line except those.
"""

import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

BANNERS = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "oneDNN custom operations are on",
)


@contextmanager
def filtered_stderr(dropped: Sequence[str]) -> Iterator[None]:
    """Capture file descriptor 2 (native and Python writes alike) while the context runs, then
    write the captured lines back, without those that contain any of ``dropped``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines(keepends=True):
                if not any(text in line for text in dropped):
                    sys.stderr.write(line)
            sys.stderr.flush()


def import_backend() -> None:
    """Import Keras and its backend without TensorFlow's oneDNN banner."""
    with filtered_stderr(BANNERS):
        import keras  # noqa: F401
