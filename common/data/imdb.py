r"""IMDB Large Movie Review Dataset (Maas et al. 2011) as bag-of-words features.

The official archive ``aclImdb_v1.tar.gz`` (84,125,825 bytes) holds 25,000 training and 25,000
test reviews, each a text file ``aclImdb/<split>/<pos|neg>/<id>_<rating>.txt``, half positive and
half negative in each split (``train/unsup`` holds 50,000 unlabelled reviews, not used here). It is
fetched through :func:`common.data.download.fetch` (``$REPRO_DATA_DIR/imdb/``, then ``data/imdb/``,
then the official URL; always sha256-verified).

**Features** (the dp-sde paper's logistic-regression task, after the DP^2 code it used: x is
25,000 x 10,000 bag-of-words, binary labels [secondary, dp-sde notes section 1]):

1. Tokenisation (:func:`tokenize`): lower-case; every HTML line break ``<br />`` (the only markup
   in the archive) becomes a space; tokens are the matches of :data:`TOKEN_RE`,
   ``[a-z0-9]+(?:'[a-z0-9]+)*``: runs of ASCII letters and digits, with inner apostrophes kept
   (``don't``, ``director's``). Everything else (punctuation, accented letters) separates tokens.
2. Vocabulary (:func:`build_vocabulary`): the ``vocab_size`` words with the largest total count
   over the *training* reviews only (the test split never influences the features); ties are
   broken alphabetically, so the vocabulary is a deterministic function of the archive.
3. Features (:func:`bag_of_words`): ``binary`` (default) sets x_ij = 1 when word j occurs in
   review i; ``counts`` gives the term frequency. Binary is the default because the notes
   describe the paper's inputs only as "bag-of-words" (the DP^2 arrays are not documented
   further), and presence features are the usual choice for logistic regression on IMDB (Keras'
   ``vectorize_sequences``, Maas et al.'s "bag of words" baseline); they also keep per-example
   gradient norms bounded by the number of distinct words, which matters for clipping.

Labels are 1 (positive, rating >= 7) and 0 (negative, rating <= 4). Rows are in sorted file
order: negatives of a split first, each class by review id. The processed arrays are cached as
one ``.npz`` per (archive sha256, vocabulary size, mode), written atomically next to the
archive's download folder (``data/imdb/``) or in ``cache_dir``.
"""

from __future__ import annotations

import io
import re
import tarfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from common import paths
from common.data.download import DataIntegrityError, Resource, fetch

__all__ = ["IMDB", "TOKEN_RE", "tokenize", "read_reviews", "build_vocabulary", "bag_of_words",
           "load_imdb", "FEATURE_MODES"]

# Size and sha256 of the official archive, as recorded in TensorFlow Datasets' checksum table
# (tensorflow/datasets, tensorflow_datasets/datasets/imdb_reviews/checksums.tsv, commit
# 90b66237ad09c9e5b9b1bc61b646db7b1fb0713c): "http://ai.stanford.edu/~amaas/data/sentiment/
# aclImdb_v1.tar.gz  84125825  c40f74a1...1658fe".
IMDB = Resource(
    "imdb", "aclImdb_v1.tar.gz",
    "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe", 84125825,
    ("https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",),
)

#: A token: a run of ASCII letters/digits, possibly joined by inner apostrophes.
TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
#: Feature modes of :func:`bag_of_words` and their dtypes.
FEATURE_MODES = {"binary": np.uint8, "counts": np.uint16}
_MEMBER_RE = re.compile(r"^aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
_TOKENIZER_VERSION = "v1"  # bump when tokenize() changes: it is part of the cache key


def tokenize(text: str) -> list[str]:
    """Lower-case, replace ``<br />`` by a space, and return the :data:`TOKEN_RE` matches."""
    return TOKEN_RE.findall(text.lower().replace("<br />", " "))


def read_reviews(archive: str | Path) -> dict[str, tuple[list[str], np.ndarray]]:
    """``{"train": (texts, labels), "test": (texts, labels)}`` from the archive, sorted by
    (label, review id); labels are int64 (1 positive, 0 negative).

    Raises :class:`DataIntegrityError` when the archive cannot be read or a split lacks a class.
    """
    found: dict[str, list[tuple[int, int, str]]] = {"train": [], "test": []}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                m = _MEMBER_RE.match(member.name)
                if not m or not member.isfile():
                    continue
                data = tar.extractfile(member).read()
                label = 1 if m.group(2) == "pos" else 0
                found[m.group(1)].append((label, int(m.group(3)), data.decode("utf-8")))
    except (tarfile.TarError, OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataIntegrityError(f"{archive} cannot be read as the IMDB archive ({exc}); it is "
                                 "truncated or corrupted: delete it and fetch it again") from exc
    out = {}
    for split, rows in found.items():
        if {r[0] for r in rows} != {0, 1}:
            raise DataIntegrityError(f"{archive}: split {split!r} does not hold both pos and neg "
                                     "reviews (not the aclImdb layout)")
        rows.sort(key=lambda r: (r[0], r[1]))
        out[split] = ([r[2] for r in rows], np.array([r[0] for r in rows], dtype=np.int64))
    return out


def build_vocabulary(token_lists: Iterable[list[str]], size: int) -> tuple[str, ...]:
    """The ``size`` most frequent tokens (total count), ties broken alphabetically."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size={size!r}: must be a positive integer")
    counts: Counter[str] = Counter()
    for tokens in token_lists:
        counts.update(tokens)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(word for word, _ in ranked[:size])


def bag_of_words(token_lists: Iterable[list[str]], vocabulary: tuple[str, ...],
                 mode: str = "binary") -> np.ndarray:
    """``(N, len(vocabulary))`` features: presence (``binary``, uint8) or counts (uint16)."""
    if mode not in FEATURE_MODES:
        raise ValueError(f"mode={mode!r}: allowed values are {sorted(FEATURE_MODES)}")
    index = {w: j for j, w in enumerate(vocabulary)}
    token_lists = list(token_lists)
    X = np.zeros((len(token_lists), len(vocabulary)), dtype=FEATURE_MODES[mode])
    for i, tokens in enumerate(token_lists):
        cols = Counter(index[t] for t in tokens if t in index)
        if not cols:
            continue
        js = np.fromiter(cols.keys(), dtype=np.int64, count=len(cols))
        if mode == "binary":
            X[i, js] = 1
        else:
            X[i, js] = np.minimum(np.fromiter(cols.values(), dtype=np.int64, count=len(cols)),
                                  np.iinfo(np.uint16).max)
    return X


def _cache_path(cache_dir: Path, resource: Resource, vocab_size: int, mode: str) -> Path:
    return cache_dir / (f"aclImdb-{resource.sha256[:16]}-tok{_TOKENIZER_VERSION}-v{vocab_size}-"
                        f"{mode}.npz")


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    from common.fileio import atomic_write_bytes

    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def _process(archive: Path, vocab_size: int, mode: str) -> dict[str, np.ndarray]:
    reviews = read_reviews(archive)
    tokens = {split: [tokenize(t) for t in texts] for split, (texts, _) in reviews.items()}
    vocab = build_vocabulary(tokens["train"], vocab_size)
    out = {"vocabulary": np.array(vocab, dtype=np.str_)}
    for split, (_, labels) in reviews.items():
        out[f"x_{split}"] = bag_of_words(tokens[split], vocab, mode)
        out[f"y_{split}"] = labels
    return out


def load_imdb(split: str = "train", *, vocab_size: int = 10_000, mode: str = "binary",
              resource: Resource = IMDB, cache_dir: str | Path | None = None,
              use_cache: bool = True) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """IMDB bag-of-words features ``X`` (N, vocab_size), labels ``y`` (N,) and the vocabulary.

    Args:
        split: ``"train"`` or ``"test"`` (25,000 reviews each in the official archive).
        vocab_size: words kept (the most frequent on the training split; module docstring).
        mode: ``"binary"`` (uint8 presence, default) or ``"counts"`` (uint16 term frequency).
        resource: the archive to fetch (tests pass a tiny archive with its own sha256).
        cache_dir: where processed arrays are cached (default ``data/imdb/`` of the repository).
        use_cache: read and write the cache (False recomputes from the archive).

    Raises:
        DataIntegrityError: the archive's size or sha256 is wrong, or it cannot be read.
        DataUnavailableError: no local copy and no download possible (``REPRO_OFFLINE=1``).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r}: allowed values are 'train' and 'test'")
    if mode not in FEATURE_MODES:
        raise ValueError(f"mode={mode!r}: allowed values are {sorted(FEATURE_MODES)}")
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 1:
        raise ValueError(f"vocab_size={vocab_size!r}: must be a positive integer")
    archive = fetch(resource)  # verifies size and sha256 before anything is read
    cache_dir = Path(cache_dir) if cache_dir is not None else paths.data_dir() / resource.folder
    cache = _cache_path(cache_dir, resource, vocab_size, mode)
    arrays = None
    if use_cache and cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError):
            arrays = None  # an unreadable cache is rebuilt
    if arrays is None:
        arrays = _process(archive, vocab_size, mode)
        if use_cache:
            _save_npz(cache, arrays)
    vocab = tuple(str(w) for w in arrays["vocabulary"])
    return arrays[f"x_{split}"], arrays[f"y_{split}"], vocab
