"""The VI tests work on matrices of size <= 60: one torch thread is faster than several (thread
start-up dominates) and keeps timings stable on a shared machine."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="package")
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
