import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread, as the app runs training (``toyood_app``): with small nets, OpenMP
    spin-waiting across threads made these modules several times slower on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
