"""The kernel's parallel NTT and QAP step (issue 17) against the pure-Python reference (circuits/ntt.py):
every size from 1 point up, thread counts that do and do not divide the work, and the thread split
forced on small inputs (set_par_min) so the split paths run, not only the single-thread fallback."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from zkmargin.circuits import msm_native as nat
from zkmargin.circuits.field import R, root_of_unity
from zkmargin.circuits.ntt import coset_ntt, intt, ntt

pytestmark = [
    pytest.mark.skipif(nat._bn254 is None, reason="C kernel not built (pure-Python fallback in use)"),
    pytest.mark.usefixtures("fp_variant_each"),  # every test once per Fp multiplication variant
]


@pytest.fixture(params=["split", "default"])
def par_min(request: pytest.FixtureRequest) -> Iterator[str]:
    """'split': split every transform over the threads however small; 'default': the kernel's threshold."""
    assert nat._bn254 is not None
    old = nat._bn254.set_par_min(1 if request.param == "split" else 1024)
    try:
        yield request.param
    finally:
        nat._bn254.set_par_min(old)


def _h_reference(a_ev: list[int], b_ev: list[int], log_n: int) -> list[int]:
    c_ev = [x * y % R for x, y in zip(a_ev, b_ev, strict=True)]
    g = root_of_unity(log_n + 1)
    odd = [coset_ntt(intt(v, log_n), log_n, g) for v in (a_ev, b_ev, c_ev)]
    return [(x * y - z) % R for x, y, z in zip(*odd, strict=True)]


@pytest.mark.usefixtures("par_min")
@pytest.mark.parametrize("log_n", [0, 1, 2, 3, 5, 8, 11])
@pytest.mark.parametrize("threads", [1, 2, 3, 4])
def test_ntt_matches_reference(log_n: int, threads: int) -> None:
    rnd = random.Random(log_n * 10 + threads)
    v = [rnd.randrange(R) for _ in range(1 << log_n)]
    assert nat.ntt_native(v, log_n, threads) == [int(x) for x in ntt(v, log_n)]


@pytest.mark.usefixtures("par_min")
@pytest.mark.parametrize("log_n", [1, 2, 4, 7, 10])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_qap_step_matches_reference(log_n: int, threads: int) -> None:
    rnd = random.Random(log_n * 7 + threads)
    n = 1 << log_n
    a_ev = [rnd.randrange(R) for _ in range(n)]
    b_ev = [rnd.randrange(R) for _ in range(n)]
    got = nat.qap_h_native(a_ev, b_ev, log_n, threads)
    want = _h_reference(a_ev, b_ev, log_n)
    assert [int.from_bytes(got[i : i + 32], "little") for i in range(0, len(got), 32)] == want


@pytest.mark.usefixtures("par_min")
def test_edge_values() -> None:
    """Zero, one, r - 1 and a constant polynomial, on 2 threads."""
    log_n = 6
    n = 1 << log_n
    for a_ev, b_ev in (([0] * n, [0] * n), ([1] * n, [R - 1] * n), ([R - 1] * n, [R - 1] * n)):
        got = nat.qap_h_native(a_ev, b_ev, log_n, 2)
        assert [int.from_bytes(got[i : i + 32], "little") for i in range(0, len(got), 32)] == _h_reference(
            a_ev, b_ev, log_n
        )
    assert nat.ntt_native([0] * n, log_n, 2) == [0] * n
    assert nat.ntt_native([5] + [0] * (n - 1), log_n, 2) == [5] * n  # a constant polynomial


def test_bad_sizes_rejected() -> None:
    assert nat._bn254 is not None
    with pytest.raises(ValueError):
        nat._bn254.ntt(bytes(32 * 3), 2, bytes(32), 2)
    with pytest.raises(ValueError):
        nat._bn254.set_par_min(0)
