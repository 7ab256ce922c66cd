"""common.models.head_lora: the convex head-LoRA fit against scikit-learn's multinomial logistic
regression (an independent solver of the same strictly convex problem) and its optimality."""

import numpy as np
import pytest
import torch

from common.models import fit_head_lora, head_lora_logits


def _problem(N=200, d=12, r=3, K=4, seed=0):
    rng = np.random.default_rng(seed)
    H = np.tanh(rng.normal(size=(N, d)))
    y = rng.integers(0, K, size=N)
    A = rng.normal(size=(r, d)) / np.sqrt(d)
    return H, y, A, K


def test_matches_sklearn_multinomial_logistic_regression():
    """With W0 = 0 the fit is multinomial logistic regression on z = A h without intercept and
    C = 1 / (N lambda). Both solvers converge to the unique minimiser: agreement to 1e-5 (sklearn's
    lbfgs stops at tol 1e-10 on its own scaling of the gradient)."""
    from sklearn.linear_model import LogisticRegression

    H, y, A, K = _problem()
    lam = 1e-2
    fit = fit_head_lora(H, y, A, num_classes=K, weight_decay=lam, gtol=1e-10)
    assert fit.converged
    ref = LogisticRegression(C=1.0 / (len(y) * lam), fit_intercept=False, tol=1e-12,
                             max_iter=10_000).fit(H @ A.T, y)
    np.testing.assert_allclose(fit.B, ref.coef_, atol=1e-5)


def test_stationarity_with_a_frozen_head_by_autograd():
    """With a non-zero head W0, b0 the autograd gradient of the objective at B̂ vanishes (to the
    solver tolerance times a small factor) and the logits are those of the layer formula."""
    H, y, A, K = _problem(seed=1)
    rng = np.random.default_rng(5)
    W0, b0 = rng.normal(size=(K, H.shape[1])), rng.normal(size=K)
    lam, s = 1e-3, 0.5
    fit = fit_head_lora(H, y, A, W0, b0, scaling=s, weight_decay=lam, gtol=1e-9)
    B = torch.tensor(fit.B, requires_grad=True)
    Ht, At = torch.tensor(H), torch.tensor(A)
    logits = Ht @ torch.tensor(W0).T + torch.tensor(b0) + s * (Ht @ At.T) @ B.T
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y)) + 0.5 * lam * (B ** 2).sum()
    loss.backward()
    assert B.grad.abs().max().item() < 1e-7
    assert loss.item() == pytest.approx(fit.objective, rel=1e-10)
    np.testing.assert_allclose(head_lora_logits(H, A, fit.B, W0, b0, scaling=s),
                               logits.detach().numpy(), rtol=1e-12)


def test_bad_input_errors():
    H, y, A, K = _problem()
    with pytest.raises(ValueError, match="weight_decay"):
        fit_head_lora(H, y, A, weight_decay=0.0)
    with pytest.raises(ValueError, match="share d"):
        fit_head_lora(H, y, A[:, :-1])
    with pytest.raises(ValueError, match="labels"):
        fit_head_lora(H, y, A, num_classes=2)
    with pytest.raises(ValueError, match="one label per row"):
        fit_head_lora(H, y[:-1], A)
