"""common.kernels.buffers.work_buffer: an empty_like whose whole huge pages are madvised."""

from __future__ import annotations

import torch

from common.kernels import buffers


def test_work_buffer_is_an_empty_like_advised_on_whole_huge_pages(monkeypatch):
    calls = []
    monkeypatch.setattr(buffers, "_madvise", lambda: lambda *a: calls.append(a) or 0)
    x = torch.zeros(25, 400_000)
    b = buffers.work_buffer(x)
    assert b.shape == x.shape and b.dtype == x.dtype and b.is_contiguous()
    assert b.data_ptr() != x.data_ptr()
    (start, length, advice), = calls
    assert advice == 14 and start % buffers.HUGE_PAGE == 0 and length % buffers.HUGE_PAGE == 0
    assert b.data_ptr() <= start and start + length <= b.data_ptr() + b.numel() * 4
    assert length >= b.numel() * 4 - 2 * buffers.HUGE_PAGE
    calls.clear()
    buffers.work_buffer(torch.zeros(3, 10))  # small: left alone
    assert calls == []


def test_work_buffer_without_madvise(monkeypatch):
    monkeypatch.setattr(buffers, "_madvise", lambda: None)
    x = torch.randn(25, 400_000, dtype=torch.float64)
    b = buffers.work_buffer(x)
    assert b.shape == x.shape and b.dtype == torch.float64
    torch.sub(x, 1.0, out=b)
    assert torch.equal(b, x - 1.0)
