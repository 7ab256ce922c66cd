from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.data import (
    CharTokenizer,
    char_dataset,
    gaussian_blobs,
    linear_regression,
    load_diabetes_standardized,
    sample_batch,
    shifted_wishart_quadratic,
)


@given(st.text(alphabet="abc xyz\n!", min_size=1, max_size=200))
def test_tokenizer_round_trip(text):
    tok = CharTokenizer.fit(text)
    assert tok.decode(tok.encode(text)) == text
    assert tok.vocab_size == len(set(text))


def test_unknown_character():
    with pytest.raises(ValueError, match="not in the tokenizer"):
        CharTokenizer.fit("abc").encode("abd")


def test_char_dataset_split_and_batches():
    text = "hello world\n" * 50
    tok, tr, va = char_dataset(text, train_fraction=0.8)
    assert len(tr) + len(va) == len(text) and len(tr) == int(0.8 * len(text))
    x, y = sample_batch(tr, 4, 8, np.random.default_rng(0))
    assert x.shape == y.shape == (4, 8)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])  # targets are the next characters


def test_tiny_shakespeare(shared_data):
    tok, tr, va = char_dataset()
    assert tok.vocab_size == 65 and len(tr) + len(va) == 1115394


def test_diabetes_standardized():
    X, y = load_diabetes_standardized()
    assert X.shape == (442, 10)
    np.testing.assert_allclose(X.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(X.std(0), 1, atol=1e-12)
    np.testing.assert_allclose([y.mean(), y.std()], [0, 1], atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(st.floats(min_value=2.0, max_value=1e5))
def test_shifted_wishart_has_the_requested_condition_number(kappa):
    M, y, r = shifted_wishart_quadratic(30, kappa, seed=1)
    ev = np.linalg.eigvalsh(M)
    # eigvalsh is backward stable: relative error ~ 1e-13 * kappa for the smallest eigenvalue.
    assert ev[-1] / ev[0] == pytest.approx(kappa, rel=1e-8)
    np.testing.assert_allclose(M, M.T)


def test_generators_are_seeded_and_validated():
    a = linear_regression(20, 3, seed=5)
    b = linear_regression(20, 3, seed=5)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    X, y = gaussian_blobs(90, 4, 3, seed=0)
    assert np.bincount(y).tolist() == [30, 30, 30]
    with pytest.raises(ValueError, match="n="):
        linear_regression(0, 3)
