import pytest
import torch

from toyood.device import resolve_device, thread_count
from toyood.errors import ConfigError


@pytest.mark.parametrize("cuda,mps,expected", [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"),
                                               (False, False, "cpu")])
def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert resolve_device("auto") == torch.device(expected)
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("name", ["cuda", "mps"])
def test_an_unavailable_device_is_refused_by_name(monkeypatch, name):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=f"device '{name}' is not available"):
        resolve_device(name)
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        resolve_device("tpu")


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
