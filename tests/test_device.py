import pytest
import torch

from toyood.device import resolve_device, thread_count
from toyood.errors import ConfigError


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="not available"):
            resolve_device("cuda")


def test_thread_count_reads_the_flag_then_the_environment(monkeypatch):
    monkeypatch.delenv("TOYOOD_THREADS", raising=False)
    assert thread_count(None) == 1
    monkeypatch.setenv("TOYOOD_THREADS", "1")
    assert thread_count(None, default=2) == 1
    monkeypatch.setenv("TOYOOD_THREADS", "many")
    with pytest.raises(ConfigError, match="TOYOOD_THREADS"):
        thread_count(None)
    with pytest.raises(ConfigError, match="between 1 and"):
        thread_count(100000)
