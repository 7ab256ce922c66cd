"""Datasets: verified downloads, MNIST / Fashion-MNIST idx files, CIFAR-10/100 binary archives,
Tiny Shakespeare, scikit-learn sets and synthetic generators. See :mod:`common.data.download` for
where files are looked up."""

from common.data.binary import BINARY_TASKS, binary_task, standardize_with_intercept
from common.data.cifar import CIFAR10, CIFAR100, load_cifar10, load_cifar100
from common.data.download import (
    DataIntegrityError,
    DataUnavailableError,
    Resource,
    copy_into_data_dir,
    fetch,
    sha256_file,
    verify_file,
)
from common.data.downsample import avg_pool_downsample
from common.data.idx import (
    FASHION_MNIST,
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    MNIST,
    MNIST_MEAN,
    MNIST_STD,
    load_fashion_mnist,
    load_mnist,
    pooled,
    read_idx,
    to_tensors,
)
from common.data.imdb import IMDB, load_imdb
from common.data.subsets import balanced_subset
from common.data.synthetic import (
    gaussian_blobs,
    linear_regression,
    logistic_regression,
    shifted_wishart_quadratic,
    spiked_psd_matrix,
)
from common.data.tabular import load_diabetes_standardized, load_sklearn
from common.data.text import (
    TINY_SHAKESPEARE,
    CharTokenizer,
    char_dataset,
    load_tiny_shakespeare,
    sample_batch,
)
from common.data.whitening import ZCA, zca_apply, zca_fit, zca_whiten

__all__ = [
    "DataIntegrityError", "DataUnavailableError", "Resource", "copy_into_data_dir", "fetch",
    "sha256_file", "verify_file", "FASHION_MNIST", "MNIST", "MNIST_MEAN", "MNIST_STD",
    "FASHION_MNIST_MEAN", "FASHION_MNIST_STD", "load_fashion_mnist", "load_mnist",
    "pooled", "read_idx", "to_tensors", "gaussian_blobs", "linear_regression",
    "logistic_regression",
    "shifted_wishart_quadratic", "spiked_psd_matrix", "load_diabetes_standardized",
    "load_sklearn", "TINY_SHAKESPEARE", "CharTokenizer", "char_dataset", "load_tiny_shakespeare",
    "sample_batch", "IMDB", "load_imdb", "BINARY_TASKS", "binary_task",
    "standardize_with_intercept", "avg_pool_downsample", "ZCA", "zca_fit", "zca_apply",
    "zca_whiten", "balanced_subset", "CIFAR10", "CIFAR100", "load_cifar10", "load_cifar100",
]
