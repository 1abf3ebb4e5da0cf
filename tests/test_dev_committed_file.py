"""The lean committed dev setup (prover/setup/dev_committed.py) writes the same key as the in-memory one.

For fixed secrets, ``write_dev_committed_key`` must produce the three files ``save_committed_key(dev_setup_committed
(...))`` writes, byte for byte, also when its chunked point sections split the committed wires over several chunks;
the prover's proof from the file key (mapped packed-only, as the operator and the 4,096-leaf benchmark load it)
verifies, and a tampered key directory is refused by the loader or fails verification.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from committed_circuits import square_plus_y

from zkmargin.circuits import msm_native
from zkmargin.circuits.r1cs import ConstraintSystem
from zkmargin.prover.committed import dev_setup_committed, prove_committed
from zkmargin.prover.committed_store import (
    COMMITMENT_KEY,
    VK,
    ZKEY,
    CommittedKeyError,
    load_committed_key,
    save_committed_key,
)
from zkmargin.prover.setup import dev_committed
from zkmargin.prover.setup.dev import SetupSecrets
from zkmargin.prover.setup.dev_committed import write_dev_committed_key
from zkmargin.verifier.committed import verify_committed

pytestmark = pytest.mark.skipif(not msm_native.available(), reason="the lean setup needs the C kernel")

SECRETS = SetupSecrets(tau=1234567, alpha=11, beta=13, gamma=17, delta=19)
ETA, K = 23, 29


def chain(n: int) -> ConstraintSystem:
    """x_0 private, x_{i+1} = x_i^2 + y; every third x committed: committed wires spread over the private range, so
    a small chunk size puts them in different chunks of the C section."""
    cs = ConstraintSystem()
    y = cs.input("y", public=True)
    xs = [cs.input("x")]
    for i in range(n):
        xs.append(cs.mul(xs[-1], xs[-1], f"sq{i}") + y)
    cs.output("out", xs[-1])
    c = cs.commit(xs[::3])
    cs.mul(c, xs[0] + 1, "c(x+1)")  # the challenge used after the commitment
    return cs


def _files(d: Path) -> dict[str, bytes]:
    return {name: (d / name).read_bytes() for name in (ZKEY, COMMITMENT_KEY, VK)}


@pytest.mark.parametrize("decode", [True, False])
@pytest.mark.parametrize(
    ("make", "chunk", "rows"),
    [(square_plus_y, 1 << 20, 1 << 19), (lambda: chain(20), 3, 4), (lambda: chain(9), 2, 1), (lambda: chain(9), 5, 7)],
)
def test_file_key_is_the_in_memory_key(
    make, chunk, rows, decode: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also with point chunks and row blocks small enough to split the sections (and the committed wires, and the
    public rows at the end of A) over several pieces; and for the in-memory key with its point lists left packed
    (``decode=False``, what the venue operator's dev setup makes) as well as decoded."""
    r1cs = make().compile()
    save_committed_key(dev_setup_committed(r1cs, secrets=SECRETS, eta=ETA, k=K, decode=decode), tmp_path / "mem")
    monkeypatch.setattr(dev_committed, "CHUNK", chunk)
    monkeypatch.setattr(dev_committed, "ROW_CHUNK", rows)
    write_dev_committed_key(r1cs, tmp_path / "file", secrets=SECRETS, eta=ETA, k=K)
    mem, lean = _files(tmp_path / "mem"), _files(tmp_path / "file")
    for name in mem:
        assert lean[name] == mem[name], name
    assert not [p for p in (tmp_path / "file").iterdir() if p.name.startswith(".")]  # no temp file left


def test_other_secrets_give_another_key(tmp_path: Path) -> None:
    """The comparison above can fail: a key from other secrets differs (so equal bytes mean the same setup)."""
    r1cs = chain(6).compile()
    write_dev_committed_key(r1cs, tmp_path / "a", secrets=SECRETS, eta=ETA, k=K)
    write_dev_committed_key(r1cs, tmp_path / "b", secrets=SECRETS, eta=ETA + 1, k=K)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a[ZKEY] == b[ZKEY]  # eta only enters the commitment key and [eta]_2
    assert a[COMMITMENT_KEY] != b[COMMITMENT_KEY] and a[VK] != b[VK]


@pytest.fixture()
def proven(tmp_path: Path):  # type: ignore[no-untyped-def]
    cs = chain(12)
    r1cs = cs.compile()
    vk = write_dev_committed_key(r1cs, tmp_path)
    key = load_committed_key(tmp_path, r1cs, packed_only=True, check_points=False)
    assert key.vk == vk
    proof, public = prove_committed(key, cs, {"x": 3, "y": 5})
    return cs, r1cs, tmp_path, vk, proof, public


def test_proof_from_mapped_file_key_verifies(proven) -> None:  # type: ignore[no-untyped-def]
    _, _, _, vk, proof, public = proven
    assert verify_committed(vk, proof, public)
    assert not verify_committed(vk, proof, [public[0] + 1, *public[1:]])


def _flip(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 1
    path.write_bytes(bytes(raw))


def test_tampered_committed_c_point_refused(proven) -> None:  # type: ignore[no-untyped-def]
    """A C point given back to a committed wire would let a prover change committed values after the challenge:
    the loader refuses it (committed wires' C points must be at infinity)."""
    _, r1cs, d, _, _, _ = proven
    raw = (d / ZKEY).read_bytes()
    base = load_committed_key(d, r1cs, packed_only=False)
    j = r1cs.commitment.private[0] - (r1cs.n_public + 1)
    c_bytes = bytes(load_committed_key(d, r1cs, packed_only=True).base.packed["c_g1"])
    start = raw.index(c_bytes)  # the C section's payload in the file
    assert base.base.c_g1[j] is None
    _flip(d / ZKEY, start + 64 * j)
    with pytest.raises(CommittedKeyError, match=r"C\[\d+\]: committed wire"):
        load_committed_key(d, r1cs, packed_only=True, check_points=False)


def test_verifying_key_of_another_setup_refused(proven, tmp_path_factory: pytest.TempPathFactory) -> None:  # type: ignore[no-untyped-def]
    _, r1cs, d, _, _, _ = proven
    other = tmp_path_factory.mktemp("other")
    write_dev_committed_key(r1cs, other)
    (d / VK).write_bytes((other / VK).read_bytes())
    with pytest.raises(CommittedKeyError, match="not the key of"):
        load_committed_key(d, r1cs, packed_only=True, check_points=False)


def test_tampered_a_point_breaks_the_proof(proven) -> None:  # type: ignore[no-untyped-def]
    """A changed A point passes the (unchecked, packed-only) load, but the proof made with it does not verify."""
    cs, r1cs, d, vk, _, _ = proven
    key = load_committed_key(d, r1cs, packed_only=True, check_points=False)
    a_bytes = bytes(key.base.packed["a_g1"])
    del key
    start = (d / ZKEY).read_bytes().index(a_bytes)
    assert a_bytes[64:128] != a_bytes[128:192]
    raw = bytearray((d / ZKEY).read_bytes())
    raw[start + 64 : start + 128] = a_bytes[128:192]  # A[1] := A[2], still a curve point
    (d / ZKEY).write_bytes(bytes(raw))
    bad = load_committed_key(d, r1cs, packed_only=True, check_points=False)
    proof, public = prove_committed(bad, cs, {"x": 3, "y": 5})
    assert not verify_committed(vk, proof, public)
