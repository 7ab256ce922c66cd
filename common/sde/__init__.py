"""SDE models of optimizers, simulated next to the optimizers they model (JAX).

Three papers of the project model optimizers by SDEs and check that the SDEs track them:
adaptive-sde (SignSGD, RMSprop(W), Adam(W); arXiv 2411.15958), compressed-sde (DCSGD, DSignSGD;
arXiv 2502.17009) and dp-sde (DP-SGD, DP-SignSGD; arXiv 2603.03226). Only their abstracts and
secondary sources were read: every SDE here is the notes' reconstruction, tagged [derived] in its
docstring, and checked numerically against its optimizer and the closed forms in ``tests/sde``.

- :mod:`common.sde.noise`         Gaussian (given covariance) and Student-t gradient noise;
                                  closed-form E[sign(mu + Z)]; the injected-noise oracle
- :mod:`common.sde.dp_noise`      per-example clipping plus the Gaussian mechanism
- :mod:`common.sde.compressors`   the JAX sampling of common.federated's compressors
- :mod:`common.sde.objectives`    the diagonal quadratic; any JAX loss of a parameter vector
- :mod:`common.sde.integrators`   Euler-Maruyama and stochastic Heun as tableaux; update orders
- :mod:`common.sde.simulate`      many paths at once: jit, vmap over paths, scan over steps;
                                  a grid of configurations as one vmapped program
- :mod:`common.sde.sgd`, :mod:`~common.sde.signsgd`, :mod:`~common.sde.rmsprop`,
  :mod:`~common.sde.adamw`, :mod:`~common.sde.distributed`, :mod:`~common.sde.dp`:
  each optimizer with its SDE
- :mod:`common.sde.registry`      the explicit registry of (optimizer, SDE) pairs
- :mod:`common.sde.closed_forms`  stationary losses and trajectories on quadratics (NumPy)
- :mod:`common.sde.scaling`       scaling rules and noise-scaling laws, as data

Example: SignSGD and its SDE on the notes' quadratic, 512 paths each::

    import jax, jax.numpy as jnp
    from common import sde
    from common.experiment import jax_key

    f = sde.DiagQuadratic(jnp.linspace(0.5, 5.0, 10))
    noise = sde.Gaussian(jnp.linspace(0.5, 2.0, 10))
    opt, model = sde.make("SignSGD", f, noise, lr=0.01)
    # one compiled program for both; the two get independent keys
    runs = sde.simulate_many((opt, model), 2.0 * jnp.ones(10), (jax_key(0), jax_key(1)),
                             num_steps=3000, num_paths=512, record_every=10)
    [float(r.window_mean(1000)) for r in runs]                   # ~0.039 each
    sde.closed_forms.signsgd_stationary_loss(0.01, noise.std)   # 0.0392

Importing this package imports JAX but initialises no device and compiles nothing; all numbers
are JAX's default float32 unless the caller enables x64. Requires the ``sde`` extra (jax).
"""

from common.sde import closed_forms, scaling
from common.sde.adamw import ADAMW_ORDER, ADAMW_ORDER_M_FIRST, AdamW, AdamWMalladiSDE, AdamWSDE
from common.sde.compressors import JAX_SAMPLERS, compress
from common.sde.distributed import DCSGD, DCSGDSDE, DSignSGD, DSignSGDSDE
from common.sde.dp import DPSGDSDE, DPSignSGDSDE
from common.sde.dp_noise import ClippedGaussianDP
from common.sde.integrators import (
    EULER_MARUYAMA,
    HEUN,
    SDE,
    TABLEAUX,
    Scheme,
    State,
    Tableau,
    integrate_step,
)
from common.sde.noise import (
    Gaussian,
    StudentT,
    injected_gradient,
    sign_mean_gaussian,
    sign_mean_student_t,
    student_t_density_at_zero,
)
from common.sde.objectives import DiagQuadratic, Objective
from common.sde.registry import SDES, SDEPair, get, make
from common.sde.rmsprop import RMSPROP_ORDER, RMSpropW, RMSpropWSDE
from common.sde.scaling import NOISE_SCALING, SCALING_RULES, ScalingRule
from common.sde.sgd import SGD, SGDSDE
from common.sde.signsgd import SignSGD, SignSGDSDE, signsgd_phase
from common.sde.simulate import (
    Trajectory,
    loss_observable,
    simulate,
    simulate_grid,
    simulate_many,
)

__all__ = [
    "closed_forms", "scaling", "ADAMW_ORDER", "AdamW", "AdamWMalladiSDE", "AdamWSDE",
    "JAX_SAMPLERS", "compress", "DCSGD", "DCSGDSDE", "DSignSGD", "DSignSGDSDE", "DPSGDSDE",
    "DPSignSGDSDE", "ClippedGaussianDP", "EULER_MARUYAMA", "HEUN", "SDE", "TABLEAUX", "Scheme",
    "State", "Tableau", "integrate_step", "Gaussian", "StudentT", "injected_gradient",
    "sign_mean_gaussian", "sign_mean_student_t", "student_t_density_at_zero", "DiagQuadratic",
    "Objective", "SDES", "SDEPair", "get", "make", "RMSPROP_ORDER", "RMSpropW", "RMSpropWSDE",
    "NOISE_SCALING", "SCALING_RULES", "ScalingRule", "SGD", "SGDSDE", "SignSGD", "SignSGDSDE",
    "signsgd_phase", "Trajectory", "loss_observable", "simulate", "simulate_grid",
    "simulate_many", "ADAMW_ORDER_M_FIRST",
]
