"""Curvature of neural networks: the Gauss-Newton matrix, its spectrum and conditioning.

- ``jacobian``        per-sample and batch-function Jacobians (``torch.func``)
- ``spectrum``        the Gauss-Newton matrix, its nonzero spectrum (through the smaller Gram)
- :mod:`common.metrics.conditioning` (re-exported here) the pseudo-condition number with an
                      explicit rank rule, rank sensitivity
- ``linear_net``      closed forms for deep linear networks (Kronecker form, rank), the Weyl
                      bound of Zhao, Singh and Lucchi (arXiv 2411.02139) and its loose variant
- ``lanczos``         Gauss-Newton-vector products and Lanczos (SciPy ``eigsh``) for models too
                      large for dense matrices

The single implementation of every curvature quantity in the project.
"""

from common.metrics.conditioning import (
    DEFAULT_RTOL,
    numerical_rank,
    pseudo_condition_number,
    rank_sensitivity,
)
from common.metrics.curvature.jacobian import (
    BatchCouplingError,
    batch_jacobian,
    flat_params,
    model_params,
    num_params,
    per_sample_jacobian,
)
from common.metrics.curvature.lanczos import (
    GNOperators,
    LanczosKappa,
    gn_operators,
    lanczos_condition_number,
    lanczos_eigenvalues,
)
from common.metrics.curvature.linear_net import (
    WeylBound,
    chain_products,
    covariance_condition,
    data_factor,
    linear_gn_eigenvalues,
    linear_gn_jacobian,
    linear_gn_kron,
    linear_gn_matrix,
    linear_gn_rank,
    linear_gn_singular_values,
    marchenko_pastur_kappa,
    weyl_bound,
)
from common.metrics.curvature.spectrum import (
    gauss_newton_matrix,
    gn_eigenvalues,
    gn_singular_values,
)

__all__ = [
    "BatchCouplingError", "batch_jacobian", "flat_params", "model_params", "num_params",
    "per_sample_jacobian", "GNOperators", "LanczosKappa", "gn_operators",
    "lanczos_condition_number", "lanczos_eigenvalues", "WeylBound", "chain_products",
    "covariance_condition", "data_factor", "linear_gn_eigenvalues", "linear_gn_jacobian",
    "linear_gn_kron", "linear_gn_matrix", "linear_gn_rank", "linear_gn_singular_values",
    "marchenko_pastur_kappa", "weyl_bound", "DEFAULT_RTOL", "gauss_newton_matrix",
    "gn_eigenvalues", "gn_singular_values", "numerical_rank", "pseudo_condition_number",
    "rank_sensitivity",
]
