"""Where torch runs: the device (auto/cpu/cuda/mps) and the number of CPU threads."""
from __future__ import annotations

import os

import torch

from .errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "mps")
THREADS_VARIABLE = "TOYOOD_THREADS"


def resolve_device(name: str) -> torch.device:
    """'auto' → cuda, then mps, then cpu; an explicit device must be available."""
    if name not in DEVICES:
        raise ConfigError(f"unknown device {name!r}; choose one of {', '.join(DEVICES)}")
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if (name == "cuda" and not cuda) or (name == "mps" and not mps):
        raise ConfigError(f"device {name!r} is not available on this machine; use 'cpu' or 'auto'")
    return torch.device(name)


def max_threads() -> int:
    """The most CPU threads a job may ask for: the cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def thread_count(requested: int | None = None, default: int = 1) -> int:
    """The thread count to use: ``requested``, else $TOYOOD_THREADS, else ``default``.

    The toy's matrices are small: one thread is close to two on a quiet machine and never spins
    against another busy process on shared cores, so 1 is the default for toy jobs.
    """
    source = "threads"
    if requested is None and os.environ.get(THREADS_VARIABLE, "").strip():
        source, text = THREADS_VARIABLE, os.environ[THREADS_VARIABLE].strip()
        try:
            requested = int(text)
        except ValueError:
            raise ConfigError(f"{THREADS_VARIABLE} must be a whole number of threads (got {text!r})")
    count = default if requested is None else requested
    limit = max_threads()
    if not 1 <= count <= limit:
        raise ConfigError(f"{source} must be between 1 and {limit} (the cores available), got {count}")
    return count


def use_threads(requested: int | None = None, default: int = 1) -> int:
    """Set torch's intra-op thread count (see ``thread_count``) and return it."""
    count = thread_count(requested, default)
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count
