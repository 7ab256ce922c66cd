"""Federated simulation: data splits, stacked client shards, vectorised client gradients,
compressors with their omega, sign aggregation, EF21 error feedback, and the clipped
double-momentum methods (Clip-SGD, Clip21-SGD, Clip21-SGD2M, Safe-DSHB, their Byzantine-robust
versions) as one step function with the aggregator as an argument."""

from common.federated.clients import (
    ClientData,
    client_gradients,
    client_gradients_loop,
    flat_params,
    set_flat_params,
    unflatten,
)
from common.federated.clip21 import (
    Byzantine,
    FedState,
    clip21_sgd2m_step,
    clip_sgd_step,
    fed_init,
    safe_dshb_step,
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
    one_bit_majority_vote,
)
from common.federated.error_feedback import EF21State, ef21_init, ef21_step
from common.federated.problems import FederatedClassification
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
    "majority_vote", "mean_of_signs", "one_bit_majority_vote", "EF21State", "ef21_init",
    "ef21_step", "SPLITS",
    "dirichlet_split", "equalize", "half_iid_half_class", "iid_split", "sorted_split",
    "Byzantine", "FedState", "clip21_sgd2m_step", "clip_sgd_step", "fed_init", "safe_dshb_step",
    "FederatedClassification",
]
