"""Smoke test of papers/softmax-rank/lib.py: a tiny run, and the Prop. 3.2 construction."""

import numpy as np
import pytest

from common.metrics import singular_value_rank
from common.project import paper_module

lib = paper_module("softmax-rank")


def test_circle_logits_fit_random_labels_at_rank_two():
    y = np.random.default_rng(0).integers(0, 17, 500)
    Z = lib.circle_logits(y, 17)
    assert np.all(Z.argmax(1) == y)
    assert all(singular_value_rank(Z, t) == 2 for t in lib.RTOLS)
    assert lib.rank1_best_accuracy(y, 17) < 0.3
    with pytest.raises(ValueError, match="num_classes"):
        lib.circle_logits(y, 3)


def test_bound_rows_hold():
    rows = lib.bound_rows({"a": (lib.random_logits(50, 5, 3.0, seed=0), 2.0)})
    assert rows[0]["ratio_tail"] <= 1 and rows[0]["ratio_logits"] <= 1


def test_tiny_gmm_run_measures_everything():
    run = lib.TempRun(dataset="gmm", num_classes=4, dim=8, per_class=20, test_size=40,
                      hidden=(16,), epochs=2, batch_size=16, rank_samples=40, temperature=10.0)
    out = lib.train_run(run)
    assert 0 <= out["test_acc"] <= 1 and len(out["logits_norm"]) == 3
    assert 2 <= len(out["compression_acc"]) <= 17 and max(out["compression_acc"]) <= 1
    assert out["logits_rank_1e-02"] <= 4
    assert out["bound"]["tail"] <= out["bound"]["column_dispersion"] + 1e-12
