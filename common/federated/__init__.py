"""Federated simulation: data splits, stacked client shards, vectorised client gradients,
compressors with their omega, sign aggregation, and EF21 error feedback."""

from common.federated.clients import (
    ClientData,
    client_gradients,
    client_gradients_loop,
    flat_params,
    set_flat_params,
    unflatten,
)
from common.federated.compressors import (
    COMPRESSORS,
    QSGD,
    Bernoulli,
    Identity,
    RandK,
    Sign,
    TopK,
    majority_vote,
    mean_of_signs,
)
from common.federated.error_feedback import EF21State, ef21_init, ef21_step
from common.federated.splits import (
    SPLITS,
    dirichlet_split,
    equalize,
    half_iid_half_class,
    iid_split,
    sorted_split,
)

__all__ = [
    "ClientData", "client_gradients", "client_gradients_loop", "flat_params", "set_flat_params",
    "unflatten", "COMPRESSORS", "QSGD", "Bernoulli", "Identity", "RandK", "Sign", "TopK",
    "majority_vote", "mean_of_signs", "EF21State", "ef21_init", "ef21_step", "SPLITS",
    "dirichlet_split", "equalize", "half_iid_half_class", "iid_split", "sorted_split",
]
