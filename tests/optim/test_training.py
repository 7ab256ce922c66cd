"""common.optim.training: the epoch loop (schedule, callbacks, stopping) and train_classifier,
which must give the same floats as the loop it replaced (written out here as the reference)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from common.experiment.seeding import derive_seed
from common.models import MLP
from common.optim import make_torch, step_decay_thirds
from common.optim.training import train_classifier, train_epochs


def _data():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(64, 5, generator=gen)
    return X, (X[:, 0] > 0).long() + (X[:, 1] > 0).long()


def _reference_loop(model, method, step, X, y, epochs, batch_size, seed):
    """The loop of train_classifier before it delegated to train_epochs."""
    opt = make_torch(method, model.parameters(), step)
    gen = torch.Generator().manual_seed(derive_seed(seed, "data-order"))
    loss_fn, losses, n = torch.nn.CrossEntropyLoss(), [], len(X)
    for _ in range(epochs):
        losses = []
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n - batch_size + 1, batch_size):
            idx = perm[i:i + batch_size]

            def closure(idx=idx):
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(X[idx]), y[idx])
                loss.backward()
                return loss

            losses.append(opt.step(closure).item())
    return float(np.mean(losses))


@pytest.mark.parametrize("method", ["SGDM", "NGN-M", "Adam"])
def test_train_classifier_is_the_old_loop(method):
    X, y = _data()
    torch.manual_seed(1)
    a = MLP(5, (8,), 3)
    b = MLP(5, (8,), 3)
    b.load_state_dict(a.state_dict())
    out = train_classifier(a, method, 0.05, X, y, epochs=3, batch_size=16, seed=4)
    ref = _reference_loop(b, method, 0.05, X, y, 3, 16, 4)
    assert out["train_loss"] == ref and not out["diverged"]
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert len(out["step_sizes"]) == (3 * 4 if method == "NGN-M" else 0)


def test_train_classifier_flags_divergence():
    X, y = _data()
    out = train_classifier(MLP(5, (8,), 3), "SGD", 1e6, X * 1e3, y, epochs=2, batch_size=16,
                           seed=0)
    assert out["diverged"] and out["train_loss"] == float("inf")


def test_train_epochs_schedule_and_callbacks():
    X, y = _data()
    model = MLP(5, (8,), 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.3)
    lrs, seen = [], []

    def on_epoch(epoch, m):
        assert m is model
        seen.append(epoch)
        lrs.append(opt.param_groups[0]["lr"])

    out = train_epochs(model, opt, X, y, epochs=6, batch_size=16, seed=0,
                       schedule=step_decay_thirds(6), on_epoch=on_epoch)
    assert seen == [1, 2, 3, 4, 5, 6] and len(out["epoch_loss"]) == 6 and not out["stopped"]
    # the lr after epoch e is the one the next epoch uses: /10 at epochs 2 and 4
    np.testing.assert_allclose(lrs, [0.3, 0.03, 0.03, 0.003, 0.003, 0.003], rtol=1e-12)
    stop = train_epochs(model, opt, X, y, epochs=3, batch_size=16, seed=0,
                        after_step=lambda loss: True)
    assert stop == {"epoch_loss": [], "stopped": True}
    with pytest.raises(ValueError, match="batch_size"):
        train_epochs(model, opt, X, y, epochs=1, batch_size=100, seed=0)
