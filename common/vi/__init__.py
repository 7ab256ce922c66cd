"""Variational Gaussian inference: the square-root family, expectations, steps, flows.

- :mod:`common.vi.gaussian`    ``q = N(m, C C^T)``, ``C`` lower-triangular; entropy, sampling,
                               KL, ``tril_half``
- :mod:`common.vi.potentials`  GLM potentials (logistic, probit, Poisson, Gaussian likelihoods)
                               and Gaussian targets with closed forms
- :mod:`common.vi.expectations`, :mod:`~common.vi.quadrature`, :mod:`~common.vi.monte_carlo`
                               ``(E_q[V], E_q[grad V], E_q[hess V])`` by Gauss-Hermite quadrature
                               or Monte Carlo (reparameterisation, Price, symmetrised Bonnet)
- :mod:`common.vi.srvn`, :mod:`~common.vi.vn`, :mod:`~common.vi.gd`, :mod:`~common.vi.bw`
                               one step per module; :mod:`common.vi.registry` lists them
- :mod:`common.vi.runner`      a run and a step-size grid with iterations-to-tolerance
- :mod:`common.vi.flows`       the continuous-time flows for ``scipy.integrate.solve_ivp``

Reference: Kumar, Möllenhoff, Khan, Lucchi, "Optimization Guarantees for Square-Root
Natural-Gradient Variational Inference", TMLR 2025, arXiv 2507.07853.
"""

from common.vi.expectations import Estimator, Expectations
from common.vi.flows import FLOWS, Flow, FlowPath, integrate_flow
from common.vi.gaussian import (
    NotPositiveDefinite,
    SqrtGaussian,
    covariance,
    entropy,
    from_covariance,
    from_precision,
    gaussian_kl,
    log_density,
    negative_elbo,
    sample,
    sqrt_gaussian,
    tril_half,
    unvech,
    vech,
)
from common.vi.guards import Diverged
from common.vi.monte_carlo import HESSIAN_ESTIMATORS, MonteCarlo, bonnet_hessian, price_hessian
from common.vi.potentials import (
    LIKELIHOODS,
    GaussianLikelihood,
    GaussianPotential,
    GLMPotential,
    Likelihood,
    Logistic,
    Poisson,
    Probit,
)
from common.vi.quadrature import (
    GaussHermite,
    GaussHermiteGLM,
    GLMQuadrature,
    Trapezoid,
    gauss_hermite,
    gaussian_expectation_1d,
)
from common.vi.registry import STEPS, VIStep, get_step
from common.vi.runner import StepGrid, VIRun, first_below, run_vi, step_grid

__all__ = [
    "Diverged", "Estimator", "Expectations", "FLOWS", "Flow", "FlowPath", "integrate_flow",
    "NotPositiveDefinite", "SqrtGaussian", "covariance", "entropy", "from_covariance",
    "from_precision", "gaussian_kl", "log_density", "negative_elbo", "sample", "sqrt_gaussian",
    "tril_half", "unvech", "vech", "HESSIAN_ESTIMATORS", "MonteCarlo", "bonnet_hessian",
    "price_hessian", "LIKELIHOODS", "GaussianLikelihood", "GaussianPotential", "GLMPotential",
    "Likelihood", "Logistic", "Poisson", "Probit", "GaussHermite", "GaussHermiteGLM",
    "GLMQuadrature", "Trapezoid", "gauss_hermite",
    "gaussian_expectation_1d", "STEPS", "VIStep", "get_step", "StepGrid", "VIRun", "first_below",
    "run_vi", "step_grid",
]
