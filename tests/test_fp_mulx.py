"""The kernel's Montgomery multiplications (portable CIOS and x86-64 mulx/adx) against Python big ints,
for Fp and Fr, on edge values and random ones; the run-time switch between them."""

from __future__ import annotations

import random

import pytest

from zkmargin.circuits import msm_native as nat
from zkmargin.circuits.field import P, R

pytestmark = pytest.mark.skipif(nat._bn254 is None, reason="C kernel not built (pure-Python fallback in use)")

R256 = 1 << 256
VARIANTS = {"portable": 0, "mulx": 1, "dispatched": 2}


def _edge(m: int) -> list[int]:
    """0, 1, m-1 and values whose limbs are near 2^64 / 2^256 (reduced: the kernels' contract is < m)."""
    return [
        0, 1, 2, m - 1, m - 2, (m - 1) // 2, (m + 1) // 2,
        (R256 - 1) % m, (R256 - 2**64) % m, 2**255 % m, 2**254, 2**192 - 1, 2**128 - 1, 2**64 - 1, 2**64,
        R256 % m, (R256 * R256) % m,  # Montgomery 1 and R^2
    ]  # fmt: skip


def _pack(xs: list[int]) -> bytes:
    return b"".join(x.to_bytes(32, "little") for x in xs)


def _unpack(b: bytes) -> list[int]:
    return [int.from_bytes(b[i : i + 32], "little") for i in range(0, len(b), 32)]


@pytest.mark.parametrize("field", [0, 1], ids=["Fp", "Fr"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_mont_mul_matches_bigint(field: int, variant: str) -> None:
    assert nat._bn254 is not None
    if variant == "mulx" and "mulx" not in nat._bn254.fp_variants():
        pytest.skip("CPU or build without BMI2/ADX")
    m = R if field else P
    rinv = pow(R256, -1, m)
    rnd = random.Random(17 + field)
    edge = _edge(m)
    a = [x for x in edge for _ in edge] + [rnd.randrange(m) for _ in range(3000)]
    b = [y for _ in edge for y in edge] + [rnd.randrange(m) for _ in range(3000)]
    got = _unpack(nat._bn254.field_mul_batch(_pack(a), _pack(b), VARIANTS[variant], field))
    assert got == [x * y * rinv % m for x, y in zip(a, b, strict=True)]


@pytest.mark.parametrize("field", [0, 1], ids=["Fp", "Fr"])
@pytest.mark.parametrize("variant", [0, 1], ids=["C", "asm"])
def test_modular_add_sub_match_bigint(field: int, variant: int) -> None:
    """The kernels' modular addition and subtraction (C macros; the x86-64 assembly every kernel uses
    where built) on every pair of edge values (a < b, a == b, sums just below, at and above m) and random ones."""
    assert nat._bn254 is not None
    m = R if field else P
    rnd = random.Random(29 + field)
    edge = [x for x in _edge(m) if x < m]  # the operations' contract: operands below m (2^254 is not, mod p)
    a = [x for x in edge for _ in edge] + [rnd.randrange(m) for _ in range(3000)]
    b = [y for _ in edge for y in edge] + [rnd.randrange(m) for _ in range(3000)]
    try:
        add = _unpack(nat._bn254.field_addsub_batch(_pack(a), _pack(b), 0, variant, field))
        sub = _unpack(nat._bn254.field_addsub_batch(_pack(a), _pack(b), 1, variant, field))
    except ValueError:
        if variant == 1:
            pytest.skip("assembly add/sub not built for this platform")
        raise
    assert add == [(x + y) % m for x, y in zip(a, b, strict=True)]
    assert sub == [(x - y) % m for x, y in zip(a, b, strict=True)]


def test_mulx_chain_equals_portable_chain() -> None:
    assert nat._bn254 is not None
    x, y = (123456789).to_bytes(32, "little"), (P - 5).to_bytes(32, "little")
    want = int.from_bytes(x, "little") * pow(P - 5, 1000, P) * pow(pow(R256, -1, P), 1000, P) % P
    for v in [0, 2] + ([1] if "mulx" in nat._bn254.fp_variants() else []):
        assert int.from_bytes(nat._bn254.field_mul_chain(x, y, 1000, v), "little") == want


def test_variant_switch_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert nat._bn254 is not None
    k = nat._bn254
    try:
        k.set_fp_variant("portable")
        assert k.fp_variant() == "portable"
        monkeypatch.setenv("ZKMARGIN_PORTABLE_FP", "1")
        k.set_fp_variant("auto")  # re-reads the environment, as at import
        assert k.fp_variant() == "portable"
        monkeypatch.delenv("ZKMARGIN_PORTABLE_FP")
        k.set_fp_variant("auto")
        assert k.fp_variant() == ("mulx" if "mulx" in k.fp_variants() else "portable")
        with pytest.raises(ValueError):
            k.set_fp_variant("avx512")
    finally:
        k.set_fp_variant("auto")


def test_bad_arguments_rejected() -> None:
    assert nat._bn254 is not None
    with pytest.raises(ValueError):
        nat._bn254.field_mul_batch(b"\0" * 32, b"\0" * 64, 0)
    with pytest.raises(ValueError):
        nat._bn254.field_mul_batch(b"\0" * 32, b"\0" * 32, 3)
