r"""Pauli strings and weighted sums of them (observables and Hamiltonians).

**Convention (the whole package).** A Pauli string is a str over ``"IXYZ"`` whose letter ``q`` acts
on qubit ``q`` (qubit 0 first). Qiskit prints strings the other way round (qubit 0 last); its
``EfficientSU2`` circuits and ``Pauli`` labels are converted by reversing the string (pitfall 7
of the notes). A Hermitian Pauli operator carries a sign: :class:`PauliSum` holds real
coefficients, so ``-XZ`` is the term ``(-1.0, "XZ")``.

**Symplectic form.** The letters of a string are two bit vectors ``x, z`` with
``I = (0, 0), X = (1, 0), Z = (0, 1), Y = (1, 1)``; as an operator
:math:`P = i^{r} \prod_q X_q^{x_q} Z_q^{z_q}`, so a Hermitian string with sign ``s`` has
:math:`r = \#Y + 2\,[s < 0] \pmod 4` (because :math:`Y = iXZ`). Two strings commute iff their
symplectic product :math:`\sum_q x_q z'_q + z_q x'_q` is even.

The random observable of the paper's experiments (arXiv 2507.06344, official code) is one
non-identity string drawn letter by letter with Python's ``random.choice`` over ``"IXYZ"``,
redrawn while it is the identity; :func:`random_pauli` does exactly that with a
``random.Random`` instance, so a seeded instance reproduces the official stream.
"""

from __future__ import annotations

import random as _random
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["LETTERS", "check_pauli", "pauli_bits", "bits_to_pauli", "commutes", "random_pauli",
           "PauliSum"]

#: The single-qubit Pauli letters, in the order of the official sampler.
LETTERS = "IXYZ"
_X_BIT = {"I": 0, "X": 1, "Y": 1, "Z": 0}
_Z_BIT = {"I": 0, "X": 0, "Y": 1, "Z": 1}


def check_pauli(pauli: str, num_qubits: int | None = None, *, name: str = "pauli") -> str:
    """Validate a Pauli string (letters ``IXYZ``, optionally of a given length); return it."""
    if not isinstance(pauli, str) or not pauli:
        raise ValueError(f"{name}={pauli!r}: a non-empty string over 'IXYZ' (letter q acts on "
                         "qubit q)")
    bad = sorted(set(pauli) - set(LETTERS))
    if bad:
        raise ValueError(f"{name}={pauli!r}: letters {bad} are not Pauli letters; allowed 'IXYZ' "
                         "(signs go into the coefficient)")
    if num_qubits is not None and len(pauli) != num_qubits:
        raise ValueError(f"{name}={pauli!r} has {len(pauli)} letters; the circuit has "
                         f"{num_qubits} qubits")
    return pauli


def pauli_bits(pauli: str) -> tuple[np.ndarray, np.ndarray]:
    """The symplectic bits ``(x, z)`` of a Pauli string, as bool arrays of its length."""
    check_pauli(pauli)
    x = np.array([_X_BIT[c] for c in pauli], dtype=bool)
    z = np.array([_Z_BIT[c] for c in pauli], dtype=bool)
    return x, z


def bits_to_pauli(x, z) -> str:
    """The letters of the symplectic bits ``(x, z)`` (one string; signs are not letters)."""
    x, z = np.asarray(x, dtype=bool), np.asarray(z, dtype=bool)
    table = np.array(list("IZXY"))  # index 2 x + z
    return "".join(table[2 * x.astype(int) + z.astype(int)])


def commutes(a: str, b: str) -> bool:
    """Whether two Pauli strings of equal length commute (even symplectic product)."""
    if len(a) != len(b):
        raise ValueError(f"commutes: strings of different lengths ({len(a)} and {len(b)})")
    xa, za = pauli_bits(a)
    xb, zb = pauli_bits(b)
    return not (int(np.sum(xa & zb)) + int(np.sum(za & xb))) % 2


def random_pauli(num_qubits: int, rng: _random.Random) -> str:
    """A uniformly random non-identity Pauli string on ``num_qubits`` qubits.

    Draws ``rng.choice("IXYZ")`` letter by letter, qubit 0 first, and redraws while the result
    is the identity: the official sampler (``RandomPauliString``) on a ``random.Random``.
    Official strings are qiskit labels, so the official string's letter ``q`` sits on qubit
    ``N - 1 - q``; the law is the same (uniform over the ``4^N - 1`` strings).
    """
    if not isinstance(num_qubits, (int, np.integer)) or num_qubits < 1:
        raise ValueError(f"num_qubits={num_qubits!r}: a positive integer")
    letters = list(LETTERS)
    while True:
        p = "".join(rng.choice(letters) for _ in range(num_qubits))
        if p != "I" * num_qubits:
            return p


@dataclass(frozen=True)
class PauliSum:
    """A real linear combination :math:`O = \\sum_i c_i P_i` of Pauli strings (Hermitian).

    ``terms`` is a tuple of ``(coefficient, string)``; all strings have the same length.
    ``norm_bound`` is :math:`\\sum_i |c_i| \\ge \\|O\\|`, the bound the Taylor error uses.
    """

    terms: tuple[tuple[float, str], ...]

    def __post_init__(self):
        terms = tuple((float(c), check_pauli(p, name="term")) for c, p in self.terms)
        if not terms:
            raise ValueError("PauliSum needs at least one term")
        n = len(terms[0][1])
        for _, p in terms:
            check_pauli(p, n, name="term")
        if not all(np.isfinite(c) for c, _ in terms):
            raise ValueError(f"PauliSum coefficients must be finite, got {[c for c, _ in terms]}")
        object.__setattr__(self, "terms", terms)

    @classmethod
    def from_pauli(cls, pauli: str, coeff: float = 1.0) -> PauliSum:
        """One string with a coefficient."""
        return cls(((coeff, pauli),))

    @classmethod
    def from_terms(cls, terms: Iterable[tuple[float, str]]) -> PauliSum:
        return cls(tuple(terms))

    @classmethod
    def coerce(cls, observable: PauliSum | str, num_qubits: int | None = None) -> PauliSum:
        """A PauliSum from a PauliSum or a bare string; checks the qubit count."""
        obs = observable if isinstance(observable, PauliSum) else cls.from_pauli(observable)
        if num_qubits is not None and obs.num_qubits != num_qubits:
            raise ValueError(f"observable acts on {obs.num_qubits} qubits; the circuit has "
                             f"{num_qubits}")
        return obs

    @property
    def num_qubits(self) -> int:
        return len(self.terms[0][1])

    @property
    def paulis(self) -> tuple[str, ...]:
        return tuple(p for _, p in self.terms)

    @property
    def coeffs(self) -> np.ndarray:
        return np.array([c for c, _ in self.terms])

    @property
    def norm_bound(self) -> float:
        return float(np.abs(self.coeffs).sum())

    def __len__(self) -> int:
        return len(self.terms)

    def matrix(self) -> np.ndarray:
        """The dense :math:`2^N \\times 2^N` matrix (reference use only; qubit 0 is the most
        significant bit of the row index, matching :mod:`common.quantum.statevector`)."""
        from common.quantum.circuit import PAULI_MATRICES

        dim = 2 ** self.num_qubits
        out = np.zeros((dim, dim), dtype=complex)
        for c, p in self.terms:
            m = np.ones((1, 1), dtype=complex)
            for letter in p:
                m = np.kron(m, PAULI_MATRICES[letter])
            out += c * m
        return out

