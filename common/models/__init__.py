"""Reference models, test objectives and initialisers, and low-rank adapters
(:mod:`common.models.lora`; the convex head-LoRA fitter :mod:`common.models.head_lora`); the
mean-field theory of deep random networks is :mod:`common.models.meanfield` (imported on its own:
it loads SciPy)."""

from common.models.activations import ACTIVATIONS, Activation, arccos_kernel, pooled
from common.models.cnn import MnistCNN
from common.models.ensemble import MLPEnsemble
from common.models.gpt import GPT, GPTConfig
from common.models.head_lora import HeadLoRAFit, fit_head_lora, head_lora_logits
from common.models.init import eoc_relative, gaussian_, init_gaussian_
from common.models.linear_net import DeepLinear, ResidualLinear
from common.models.lora import A_INITS, LoRALinear, apply_lora, init_lora_A, lora_parameters
from common.models.mlp import MLP, PLACEMENTS, batch_statistics
from common.models.objectives import (
    LeastSquares,
    Quadratic,
    Quartic,
    Rosenbrock,
    TemperatureCrossEntropy,
    temperature_cross_entropy,
)
from common.models.pruning import apply_masks, magnitude_masks, prunable_names
from common.models.resnet import CifarResNet, ResNet18, resnet20
from common.models.resnet9 import ResNet9
from common.models.ufm import UFM, etf, simplex_etf
from common.models.vgg import VGG9, pad_to_32

__all__ = ["MnistCNN", "GPT", "GPTConfig", "MLP", "LeastSquares", "Quadratic", "Quartic",
           "Rosenbrock", "DeepLinear", "ResidualLinear", "apply_masks",
           "magnitude_masks", "prunable_names", "CifarResNet", "resnet20", "ResNet9", "VGG9",
           "pad_to_32", "UFM", "etf", "simplex_etf",
           "ACTIVATIONS", "Activation", "arccos_kernel", "pooled", "MLPEnsemble",
           "eoc_relative", "gaussian_", "init_gaussian_", "A_INITS", "LoRALinear", "apply_lora",
           "init_lora_A", "lora_parameters", "HeadLoRAFit", "fit_head_lora", "head_lora_logits",
           "PLACEMENTS", "batch_statistics",
           "ResNet18", "TemperatureCrossEntropy", "temperature_cross_entropy"]
