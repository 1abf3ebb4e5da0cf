"""Phase-2 contributions recorded in the ``.zkey`` exactly as ``snarkjs zkey contribute`` /
``zkey beacon`` record them, so that ``snarkjs zkey verify`` and third-party snarkjs contributors
work on our keys and we work on theirs.

One contribution, with x the contributor's secret (drawn from ffjavascript's ChaCha seeded by
blake2b(OS randomness || entropy text), or from the beacon for a beacon):

* g1_s: a random G1 point from the same generator, g1_sx = x * g1_s;
* transcript = blake2b(csHash || every earlier record || g1_s || g1_sx);
* g2_spx = x * hash_to_g2(transcript): the pairing check e(g1_s, g2_spx) = e(g1_sx, g2_sp) then
  proves knowledge of x bound to this transcript;
* delta1, delta2 times x, the C and H points times 1/x; deltaAfter = the new delta1.

The formats and hashes live in ``zkmargin.verifier`` (``zkey_mpc``, ``snarkjs_rng``,
``zkey_init``) so that the auditor's checker and this writer cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zkmargin.circuits.curve import G1_GEN, G2_GEN, G1Affine, g1_mul, g2_mul
from zkmargin.circuits.field import R
from zkmargin.circuits.r1cs import R1CS
from zkmargin.verifier.contributor_identity import encode_signed_name, signing_message
from zkmargin.verifier.report import Report
from zkmargin.verifier.snarkjs_rng import (
    MAX_BEACON_EXP,
    MIN_BEACON_EXP,
    ChaCha,
    fr_from_rng,
    g1_from_rng,
    hash_to_g2,
    rng_from_beacon,
    rng_from_entropy,
)
from zkmargin.verifier.zkey_ceremony import check_contribution_chain, same_ratio, scaled_by_delta
from zkmargin.verifier.zkey_init import circuit_hash
from zkmargin.verifier.zkey_mpc import (
    TYPE_BEACON,
    TYPE_CONTRIBUTION,
    Contribution,
    MpcParams,
    build_params,
    check_name,
    transcript_for,
)

from ..keys import ProvingKey
from .phase1 import PreparedPhase1
from .phase2 import apply_delta, initial_key


@dataclass
class ZkeyStep:
    """A contribution's result: the new key (``key.mpc`` holds the records) and its record."""

    key: ProvingKey
    record: Contribution

    @property
    def contribution_hash(self) -> bytes:
        return self.record.contribution_hash()


def initial_zkey(r1cs: R1CS, prep: PreparedPhase1, tau_g1: Sequence[G1Affine]) -> ProvingKey:
    """The key before any contribution (delta = 1), with snarkjs's circuit hash as its records'
    root. ``tau_g1`` are the phase-1 powers the hash covers (see ``zkey_init.circuit_hash``)."""
    pk = initial_key(r1cs, prep)
    cs = circuit_hash(pk.alpha1, pk.beta1, pk.beta2, pk.ic, pk.c_g1, pk.a_g1, pk.b_g1, pk.b_g2, tau_g1, pk.domain_size)
    pk.mpc = MpcParams(cs, [])
    return pk


def _records(pk: ProvingKey) -> MpcParams:
    if pk.mpc is None:
        raise ValueError("the key has no contribution records (section 10): not a phase-2 ceremony key")
    return pk.mpc


def _apply(
    pk: ProvingKey, rng: ChaCha, ctype: int, params: bytes, secret: int | None = None
) -> tuple[ProvingKey, Contribution, int]:
    mpc = _records(pk)
    x = fr_from_rng(rng) if secret is None else secret % R
    if x == 0:  # probability 2^-254; snarkjs would emit a useless key, refuse instead
        raise ValueError("drew a zero secret")
    g1_s = g1_from_rng(rng)
    g1_sx = g1_mul(g1_s, x)
    transcript = transcript_for(mpc.cs_hash, mpc.contributions, g1_s, g1_sx)
    g2_spx = g2_mul(hash_to_g2(transcript), x)
    rec = Contribution(None, g1_s, g1_sx, g2_spx, transcript, ctype, params)
    new = apply_delta(pk, x, MpcParams(mpc.cs_hash, [*mpc.contributions, rec]))
    rec.delta_after = new.delta1
    return new, rec, x


def sign_contribution(contribution_hash: bytes, private_key: str) -> tuple[str, bytes]:
    """(address, 65-byte signature) of an Ethereum key over the contribution's signing message."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    acct = Account.from_key(private_key)
    signed = acct.sign_message(encode_defunct(text=signing_message(contribution_hash)))
    return str(acct.address), bytes(signed.signature)


def contribute_with_secret(
    pk: ProvingKey, rng: ChaCha, name: str | None = None, signer_key: str | None = None, secret: int | None = None
) -> tuple[ZkeyStep, int]:
    """One contribution from ``rng``; also returns the secret x (for our own transcript's proof of
    knowledge in ``zkmargin setup``; a third-party contributor never needs it). ``secret`` replaces
    the drawn x: tests only (they compare a ceremony's key with a dev key of known secrets)."""
    if name:
        check_name(name)
    new, rec, x = _apply(pk, rng, TYPE_CONTRIBUTION, b"", secret)
    if signer_key is not None:
        address, sig = sign_contribution(rec.contribution_hash(), signer_key)
        name = encode_signed_name(name or "", address, sig)
    rec.params = build_params(name)
    return ZkeyStep(new, rec), x


def contribute(pk: ProvingKey, entropy: str = "", name: str | None = None, signer_key: str | None = None) -> ZkeyStep:
    """``snarkjs zkey contribute``: one contribution with a fresh secret (OS randomness mixed with
    ``entropy``), optionally signed by an Ethereum key (``signer_key``, hex)."""
    step, x = contribute_with_secret(pk, rng_from_entropy(entropy), name, signer_key)
    del x
    return step


def beacon(pk: ProvingKey, beacon_hash: bytes, iterations_exp: int, name: str | None = None) -> ZkeyStep:
    """``snarkjs zkey beacon``: the final contribution from a public random beacon, which anyone
    can recompute (it adds no secrecy, it removes the last contributor's last-mover advantage)."""
    if not 0 < len(beacon_hash) < 256:
        raise ValueError("beacon hash must be 1..255 bytes")
    if not MIN_BEACON_EXP <= iterations_exp <= MAX_BEACON_EXP:
        raise ValueError(f"iterations exponent must be in [{MIN_BEACON_EXP}, {MAX_BEACON_EXP}]")
    if name:
        check_name(name)
    new, rec, _ = _apply(pk, rng_from_beacon(beacon_hash, iterations_exp), TYPE_BEACON, b"")
    rec.params = build_params(name, (beacon_hash, iterations_exp))
    return ZkeyStep(new, rec)


def verify_step(before: ProvingKey, after: ProvingKey) -> Report:
    """A contributor's self-check before publishing: the input key's chain ends at its delta, every
    record of the output verifies (as ``snarkjs zkey verify`` checks them), the output's delta is its
    last record's, and C and H were divided by exactly the factor delta was multiplied by."""
    rep = Report("contribution self-check")
    if before.mpc is None or after.mpc is None:
        rep.add("records.present", False, "a key without section 10")
        return rep
    n = len(before.mpc.contributions)
    prev_last = before.mpc.contributions[-1].delta_after if n else G1_GEN
    rep.add("input.delta_is_last_record", before.delta1 == prev_last, "the input key's delta is not its records'")
    last = check_contribution_chain(after.mpc, rep)
    rep.add("output.one_more_record", len(after.mpc.contributions) == n + 1)
    rep.add("output.delta1_is_last_record", after.delta1 == last)
    rep.add("output.delta2_matches_delta1", same_ratio(G1_GEN, after.delta1, G2_GEN, after.delta2))
    rep.add("output.c_rescaled", scaled_by_delta(before.c_g1, after.c_g1, after.delta2, before.delta2))
    rep.add("output.h_rescaled", scaled_by_delta(before.h_g1, after.h_g1, after.delta2, before.delta2))
    return rep


__all__ = [
    "ZkeyStep",
    "beacon",
    "contribute",
    "contribute_with_secret",
    "initial_zkey",
    "sign_contribution",
    "verify_step",
]
