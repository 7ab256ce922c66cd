"""Tiny Shakespeare and a character-level tokenizer.

Tiny Shakespeare is ``data/tinyshakespeare/input.txt`` of karpathy/char-rnn (1,115,394 bytes of
ASCII, 40,000 lines, 65 distinct characters). The split follows nanoGPT: the first 90 % of the
characters for training, the rest for validation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.data.download import Resource, fetch

__all__ = ["TINY_SHAKESPEARE", "load_tiny_shakespeare", "CharTokenizer", "char_dataset",
           "sample_batch"]

TINY_SHAKESPEARE = Resource(
    "tinyshakespeare", "input.txt",
    "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed", 1115394,
    ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",),
)


def load_tiny_shakespeare() -> str:
    """The whole corpus as one string (sha256-verified)."""
    return fetch(TINY_SHAKESPEARE).read_text(encoding="ascii")


@dataclass(frozen=True)
class CharTokenizer:
    """Maps each distinct character of a corpus to an integer id (sorted order)."""

    chars: str

    @classmethod
    def fit(cls, text: str) -> CharTokenizer:
        return cls("".join(sorted(set(text))))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        lut = {ch: i for i, ch in enumerate(self.chars)}
        try:
            return np.fromiter((lut[ch] for ch in text), dtype=np.int64, count=len(text))
        except KeyError as exc:
            raise ValueError(f"character {exc.args[0]!r} is not in the tokenizer's "
                             "vocabulary") from None

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def char_dataset(text: str | None = None, train_fraction: float = 0.9):
    """``(tokenizer, train_ids, val_ids)`` of a character corpus (Tiny Shakespeare by default)."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction={train_fraction}: must be in (0, 1)")
    text = load_tiny_shakespeare() if text is None else text
    tok = CharTokenizer.fit(text)
    ids = tok.encode(text)
    cut = int(train_fraction * len(ids))
    return tok, ids[:cut], ids[cut:]


def sample_batch(ids: np.ndarray, batch_size: int, context: int, rng: np.random.Generator):
    """Random windows: inputs ``(batch_size, context)`` and next-character targets, as int64."""
    if len(ids) <= context:
        raise ValueError(f"context={context} is not shorter than the corpus ({len(ids)} tokens)")
    start = rng.integers(0, len(ids) - context, size=batch_size)
    offsets = np.arange(context)
    x = ids[start[:, None] + offsets]
    y = ids[start[:, None] + offsets + 1]
    return x, y
