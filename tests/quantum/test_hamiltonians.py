"""The VQE observables against the official ground energies (notes section 4, from the official
code's exact diagonalisation, printed to the digits given there)."""

from __future__ import annotations

import numpy as np
import pytest

from common.quantum import biased_heisenberg, global_z, ground_energy, heisenberg
from common.quantum.lce import choose_lce_official


@pytest.mark.slow
def test_official_ground_energies():
    assert ground_energy(global_z(6)) == pytest.approx(-1.0, abs=1e-12)
    assert ground_energy(heisenberg(12)) == pytest.approx(-20.57, abs=0.005)      # sparse path
    assert ground_energy(biased_heisenberg(8)) == pytest.approx(-1.568, abs=5e-4)  # dense path


def test_term_order_follows_the_official_labels():
    h = heisenberg(4)
    # official term 0 is the qiskit label 'XXII' (qubits 3 and 2), stored in qubit order
    assert h.paulis[:3] == ("IIXX", "IIYY", "IIZZ")
    assert len(h) == 9 and np.all(h.coeffs == 1.0)
    b = biased_heisenberg(4)
    assert b.paulis[-3:] == ("XXXX", "YYYY", "ZZZZ")
    assert b.coeffs[0] == pytest.approx(1 / 9)


def test_official_lce_choice_draws_term_then_k():
    import random

    from common.quantum import mhea

    circ = mhea(3, 1)
    lce = choose_lce_official(circ, heisenberg(3), random.Random(7))
    rng = random.Random(7)
    term, k = rng.randint(0, 5), rng.randint(0, circ.num_params - 1)
    assert lce.k == k and lce.pauli == heisenberg(3).paulis[term]
