"""One run spread over devices and processes: ``distribution=none`` or ``distribution=data_parallel``."""

from keraslab.distribution.data_parallel import DataParallel, SingleProcess

__all__ = ["DataParallel", "SingleProcess"]
