"""Differential privacy: per-sample gradients, clipping, the Gaussian mechanism, DP events,
accountants and calibration, and DP-SGD as a composition.

- :func:`per_sample_grads` (``torch.func``) and :class:`BookKeeping` (no materialisation, Linear
  and Conv2d) for per-sample gradients, norms and clipped sums;
- :func:`clip_rows`, :func:`clip_vector`, :func:`clip_factors`: global-L2 clipping;
- :func:`gaussian_mechanism` and the event records (:class:`GaussianEvent`,
  :class:`PoissonSampledEvent`, :class:`SelfComposedEvent`, :class:`ComposedEvent`);
- :func:`gaussian_mechanism_shared`: the mechanism for a grid of runs sharing one draw;
- :class:`RDPAccountant`, :class:`PLDAccountant`, :func:`calibrate_noise_multiplier`,
  :func:`dp_sgd_noise_multipliers` / :func:`dp_sgd_epsilons` (DP-SGD both ways), and the
  papers' nominal local-DP formula :func:`nominal_local_sigma` with :func:`certified_local_epsilon`;
- :class:`DPGradient`: clip per sample, sum, add noise; then step any optimizer.
"""

from common.privacy.accounting import (
    ACCOUNTANTS,
    PLDAccountant,
    RDPAccountant,
    calibrate_noise_multiplier,
    certified_local_epsilon,
    check_epsilon_delta,
    get_accountant,
    nominal_local_sigma,
    theory_local_sigma,
    zcdp_gaussian_epsilon,
)
from common.privacy.bookkeeping import BookKeeping
from common.privacy.calibration import (
    dp_sgd_epsilons,
    dp_sgd_noise_multipliers,
    quiet_dp_accounting,
)
from common.privacy.clipping import clip_factors, clip_rows, clip_vector
from common.privacy.dp_sgd import DPGradient, DPStepInfo, clipped_grad_sum
from common.privacy.events import (
    ComposedEvent,
    DpEvent,
    GaussianEvent,
    PoissonSampledEvent,
    SelfComposedEvent,
    dp_sgd_event,
    to_dp_accounting,
)
from common.privacy.mechanisms import (
    gaussian_mechanism,
    gaussian_mechanism_shared,
    gaussian_noise_like,
)
from common.privacy.per_sample import flatten_per_sample, per_sample_grads, per_sample_norms
from common.privacy.validate import UnsupportedModuleError, check_no_batch_coupling

__all__ = [
    "ACCOUNTANTS", "PLDAccountant", "RDPAccountant", "calibrate_noise_multiplier",
    "certified_local_epsilon", "check_epsilon_delta", "get_accountant", "nominal_local_sigma",
    "theory_local_sigma", "zcdp_gaussian_epsilon", "BookKeeping", "clip_factors", "clip_rows",
    "clip_vector", "DPGradient", "DPStepInfo", "clipped_grad_sum", "ComposedEvent", "DpEvent",
    "GaussianEvent", "PoissonSampledEvent", "SelfComposedEvent", "dp_sgd_event",
    "to_dp_accounting", "gaussian_mechanism", "gaussian_noise_like", "flatten_per_sample",
    "per_sample_grads", "per_sample_norms", "UnsupportedModuleError", "check_no_batch_coupling",
    "dp_sgd_epsilons", "dp_sgd_noise_multipliers", "quiet_dp_accounting",
    "gaussian_mechanism_shared",
]
