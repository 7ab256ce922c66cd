"""Reference models and test objectives."""

from common.models.cnn import MnistCNN
from common.models.gpt import GPT, GPTConfig
from common.models.mlp import MLP
from common.models.objectives import LeastSquares, Quadratic, Quartic, Rosenbrock

__all__ = ["MnistCNN", "GPT", "GPTConfig", "MLP", "LeastSquares", "Quadratic", "Quartic",
           "Rosenbrock"]
