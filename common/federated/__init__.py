"""Federated simulation: data splits, stacked client shards, vectorised client gradients,
compressors with their omega, sign aggregation, EF21 error feedback, the clipped double-momentum
methods (Clip-SGD, Clip21-SGD, Clip21-SGD2M, Safe-DSHB, their Byzantine-robust versions) and the
compressed / sign methods (DSGD, DCSGD, DSignSGD) as step functions with the aggregator as an
argument, one training loop over rounds (:func:`run_rounds`), the federated MNIST problem
(:func:`mnist_federated`) and injected gradient noise (:data:`NOISES`)."""

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
from common.federated.compressed import (
    VOTES,
    CompressedMethod,
    compressed_step,
    dcsgd,
    dsgd,
    dsignsgd,
    rand_k,
    server_mean,
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
    omega_table,
    one_bit_majority_vote,
)
from common.federated.error_feedback import EF21State, ef21_init, ef21_step
from common.federated.mnist import MNIST_MODELS, MNIST_NETWORKS, mnist_federated, mnist_pooled
from common.federated.noise import NOISES, gaussian, student_t, student_t_sampler
from common.federated.problems import FederatedClassification
from common.federated.splits import (
    SPLITS,
    dirichlet_split,
    equalize,
    half_iid_half_class,
    iid_split,
    sorted_split,
)
from common.federated.training import StepRule, run_rounds, with_injected_noise

__all__ = [
    "ClientData", "client_gradients", "client_gradients_loop", "flat_params", "set_flat_params",
    "unflatten", "COMPRESSORS", "QSGD", "Bernoulli", "Identity", "RandK", "Sign", "TopK",
    "majority_vote", "mean_of_signs", "one_bit_majority_vote", "omega_table", "EF21State",
    "ef21_init", "ef21_step", "SPLITS",
    "dirichlet_split", "equalize", "half_iid_half_class", "iid_split", "sorted_split",
    "Byzantine", "FedState", "clip21_sgd2m_step", "clip_sgd_step", "fed_init", "safe_dshb_step",
    "FederatedClassification", "VOTES", "CompressedMethod", "compressed_step", "dcsgd", "dsgd",
    "dsignsgd", "rand_k", "server_mean", "mnist_federated", "mnist_pooled",
    "MNIST_MODELS", "MNIST_NETWORKS", "NOISES", "gaussian",
    "student_t", "student_t_sampler", "StepRule", "run_rounds", "with_injected_noise",
]
