"""The federated MNIST problem: a small MLP on average-pooled MNIST split over clients.

One builder for the federated MNIST experiments of the Clip21 family (clip21-sgd2m,
arXiv 2502.11682; byz-clip21-sgd2m, arXiv 2603.23472) and of compressed-sde (arXiv 2502.17009).
The choices it exposes are the ones those papers differ in; the rest is fixed here, once:

- **Inputs.** Images average-pooled by ``pool`` (28 x 28 -> 7 x 7 for 4;
  :func:`common.data.pooled`), standardised with MNIST's training statistics
  (:data:`common.data.MNIST_MEAN`, :data:`common.data.MNIST_STD`), float32.
- **Rows.** One seeded permutation of the 60,000 training images (``seed``): its first
  ``val_fraction`` are the validation set, the rest the training pool; ``subset`` keeps the first
  ``subset`` of the pool, in index order (a subset is a set: its order never depends on the
  permutation). The test set is the 10,000 test images.
- **Clients.** ``split`` cuts the training rows into ``num_clients`` equal shards: ``"iid"``
  (:func:`~common.federated.iid_split`, seeded by ``split_seed``, default ``seed``) or
  ``"sorted"`` (by digit, :func:`~common.federated.sorted_split`: heterogeneous clients), or any
  ``split(labels, num_clients) -> shards``. The last ``label_flip_clients`` clients train on
  flipped labels ``9 - y`` (:func:`common.robust.flip_labels`, a Byzantine data attack).
- **Model.** ``model`` names a builder of :data:`MNIST_MODELS`: ``"mlp"`` (default),
  ``MLP(pixels, (hidden,), 10)`` with ``activation`` (:class:`common.models.MLP`; with
  ``pool=1, hidden=256, activation="tanh"`` it is the 784-256-10 MLP of the Byz-Clip21-SGD2M
  code), or ``"cnn"``, :class:`common.models.MnistCNN` (the papers' MNIST CNN, 1.2M parameters;
  needs ``pool=1``). The CNN sees the same standardised pixels as the MLPs; the authors' code
  feeds pixels scaled to [0, 1] (an affine change of the input that the first layer absorbs).
- **Device.** ``device`` holds the data, the model and the initial point (``"cpu"``, ``"cuda"``);
  mini-batch sampling and DP noise still draw from CPU generators, so a seed gives the same
  streams on every device.

The result is a :class:`~common.federated.FederatedClassification`: a flat parameter vector,
``grad_fn`` for every client's mini-batch gradient in one vectorised call, and ``evaluate`` on
``"val"`` (when ``val_fraction > 0``), ``"train"`` (the union of the shards, with
``train_eval=True``) and ``"test"``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from common.federated.clients import ClientData
from common.federated.problems import FederatedClassification
from common.federated.splits import iid_split, sorted_split

__all__ = ["mnist_federated", "mnist_pooled", "MNIST_MODELS", "MNIST_NETWORKS"]

_SPLITS = {
    "iid": lambda labels, n, seed: iid_split(labels, n, seed=seed),
    "sorted": lambda labels, n, seed: sorted_split(labels, n),
}


def _mlp(pixels: int, hidden: int, activation: str):
    from common.models import MLP

    return MLP(pixels, (hidden,), 10, activation=activation)


def _cnn(pixels: int, hidden: int, activation: str):
    from common.models import MnistCNN

    if pixels != 28 * 28:
        raise ValueError(f"model='cnn' needs the full 28 x 28 images (pool=1); got {pixels} "
                         "pixels")
    return MnistCNN()


#: model name -> ``builder(pixels, hidden, activation) -> nn.Module`` (10 classes).
MNIST_MODELS = {"mlp": _mlp, "cnn": _cnn}

#: The networks of the Clip21 family's MNIST experiments, as :func:`mnist_federated` arguments:
#: the reduced scale's MLP 49-32-10 (tanh) on 7x7 pooled images, and the two networks of the
#: Byz-Clip21-SGD2M code (arXiv 2603.23472, Fig. 1-2; Clip21-SGD2M's Fig. 4 uses the CNN): the
#: 784-256-10 MLP (tanh) and the CNN, on full 28x28 images.
MNIST_NETWORKS = {
    "mlp7": {"pool": 4, "hidden": 32, "activation": "tanh"},
    "mlp256": {"pool": 1, "hidden": 256, "activation": "tanh"},
    "cnn": {"pool": 1, "model": "cnn"},
}


def mnist_pooled(images: np.ndarray, pool: int) -> torch.Tensor:
    """``images`` (N, 28, 28) uint8 pooled by ``pool``, standardised, float32 (N, (28/pool)^2)."""
    from common.data import MNIST_MEAN, MNIST_STD, pooled

    return ((pooled(images, pool) - MNIST_MEAN) / MNIST_STD).float()


def mnist_federated(num_clients: int, *, split: str | Callable = "iid", pool: int = 4,
                    hidden: int = 32, activation: str = "tanh", val_fraction: float = 0.1,
                    subset: int | None = None, seed: int = 0, split_seed: int | None = None,
                    label_flip_clients: int = 0, train_eval: bool = False,
                    model: str = "mlp", device: str | torch.device = "cpu",
                    ) -> FederatedClassification:
    """The federated MNIST problem (module docstring); arguments as described there."""
    from common.data import load_mnist
    from common.robust import flip_labels

    if model not in MNIST_MODELS:
        raise ValueError(f"model={model!r}: allowed values are {sorted(MNIST_MODELS)}")
    if model == "cnn" and pool != 1:
        raise ValueError(f"model='cnn' needs the full 28 x 28 images: pool=1, got pool={pool}")
    if num_clients < 1:
        raise ValueError(f"num_clients={num_clients}: must be >= 1")
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction={val_fraction}: must be in [0, 1)")
    if not 0 <= label_flip_clients <= num_clients:
        raise ValueError(f"label_flip_clients={label_flip_clients}: must be in "
                         f"[0, num_clients={num_clients}]")
    if isinstance(split, str):
        if split not in _SPLITS:
            raise ValueError(f"split={split!r}: allowed values are {sorted(_SPLITS)} or a "
                             "function split(labels, num_clients)")
        rule, rule_seed = _SPLITS[split], seed if split_seed is None else split_seed

        def split_fn(labels, n):
            return rule(labels, n, rule_seed)
    else:
        split_fn = split
    images, labels = load_mnist("train")
    order = np.random.default_rng(seed).permutation(len(images))
    n_val = int(round(val_fraction * len(images)))
    val, train = order[:n_val], order[n_val:]
    if subset is not None:
        if not num_clients <= subset <= len(train):
            raise ValueError(f"subset={subset}: must be in [num_clients, {len(train)}]")
        train = np.sort(train[:subset])
    X, y = mnist_pooled(images[train], pool), torch.tensor(labels[train], dtype=torch.long)
    data = ClientData.from_split(X, y, split_fn(y.numpy(), num_clients))
    if label_flip_clients:
        data.y[num_clients - label_flip_clients:] = flip_labels(
            data.y[num_clients - label_flip_clients:])
    eval_sets = {}
    if n_val:
        eval_sets["val"] = (mnist_pooled(images[val], pool),
                            torch.tensor(labels[val], dtype=torch.long))
    if train_eval:
        eval_sets["train"] = (data.X.reshape(-1, X.shape[1]), data.y.reshape(-1))
    test_images, test_labels = load_mnist("test")
    eval_sets["test"] = (mnist_pooled(test_images, pool),
                         torch.tensor(test_labels, dtype=torch.long))
    pixels, build = X.shape[1], MNIST_MODELS[model]
    return FederatedClassification(lambda: build(pixels, hidden, activation), data, eval_sets,
                                   device=device)
