"""How the chain sees our objects: EVM words of curve points, proofs and verifying keys, the key blob and its
keccak256, the registry's EpochHeader and flat batch words, and the hashes the registry stores.

Split from ``chain.py`` (the read-only registry client, which re-exports every name here) because these are pure
functions with no connection: the operator's transactions, the committed verifier and the tests encode with them
without a node, and each matches one layout in ``contracts/``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from eth_utils import keccak

from zkmargin.circuits.curve import G1Affine, G2Affine

from .attestation import BatchStatement, EpochAttestation
from .committed import CommittedProof, CommittedVerifyingKey
from .types import Proof, VerifyingKey


def g1_words(p: G1Affine) -> list[int]:
    """EVM encoding of a G1 point; infinity is (0, 0) for the precompiles."""
    return [0, 0] if p is None else [int(p[0]), int(p[1])]


def g2_words(p: G2Affine) -> list[int]:
    """EVM encoding of a G2 point: x1 (imaginary part) first, then x0; same for y (EIP-197)."""
    if p is None:
        return [0, 0, 0, 0]
    (x0, x1), (y0, y1) = p
    return [int(x1), int(x0), int(y1), int(y0)]


def proof_to_evm(proof: Proof) -> list[int]:
    """Proof as the registry's uint256[8]: A.x A.y B.x1 B.x0 B.y1 B.y0 C.x C.y."""
    return [*g1_words(proof.a), *g2_words(proof.b), *g1_words(proof.c)]


def vk_to_words(vk: VerifyingKey) -> list[int]:
    return [
        *g1_words(vk.alpha1),
        *g2_words(vk.beta2),
        *g2_words(vk.gamma2),
        *g2_words(vk.delta2),
        *(w for p in vk.ic for w in g1_words(p)),
    ]


def vk_to_bytes(vk: VerifyingKey) -> bytes:
    """Key blob for Groth16Verifier / SolvencyRegistry.setVerifyingKey (layout in contracts/Groth16.sol)."""
    return b"".join(w.to_bytes(32, "big") for w in vk_to_words(vk))


def committed_vk_to_bytes(vk: CommittedVerifyingKey) -> bytes:
    """Key blob of a committed key: the plain key blob (IC with the challenge's point last) followed by
    [eta]_2 (x1 x0 y1 y0), the commitment slot's G2 point. Groth16CommittedVerifier and SolvencyRegistry
    (committed mode) take it; the registry tells it from a plain blob by its length (its public-input count is
    fixed)."""
    words = [*vk_to_words(vk.base), *g2_words(vk.g2_eta)]
    return b"".join(w.to_bytes(32, "big") for w in words)


def key_blob(vk: VerifyingKey | CommittedVerifyingKey | bytes) -> bytes:
    """The registry's key blob for a plain or a committed key (bytes pass through)."""
    if isinstance(vk, bytes):
        return vk
    if isinstance(vk, CommittedVerifyingKey):
        return committed_vk_to_bytes(vk)
    return vk_to_bytes(vk)


def verifying_key_hash(vk: VerifyingKey | CommittedVerifyingKey | bytes) -> bytes:
    """keccak256 of the key blob, exactly what ``SolvencyRegistry.verifyingKeyHash()`` returns for ``vk``: for a
    committed key the blob includes [eta]_2, so the pin covers the commitment slot too.

    User and audit code compare a bundle's key with the registry's pinned key through this hash.
    """
    return keccak(key_blob(vk))


def statement_words(bt: BatchStatement) -> list[int]:
    """A batch's own public signals in the layout's order, as the registry takes and hashes them: root, first and last
    id hash, account count, equity, MM, under-MM count, shortfall, bad debt, liabilities[A]."""
    return [
        bt.batch_root,
        bt.first_id_hash,
        bt.last_id_hash,
        bt.account_count,
        bt.total_equity,
        bt.total_mm,
        bt.under_mm_count,
        bt.total_shortfall,
        bt.total_bad_debt,
        *bt.liabilities,
    ]


def batch_tree_root(statements: Sequence[BatchStatement | Sequence[int]], epoch: int) -> bytes:
    """The registry's ``batchTreeRoot`` after a full epoch ``epoch`` with these batches in order: batch k in slot k,
    ranges from the id ranges, proof epoch ``epoch`` (:class:`zkmargin.verifier.batch_tree.BatchTree`, the one mirror
    of the on-chain tree). Binds roots, id ranges and totals: a reader with the bundle's batch list recomputes it."""
    from .batch_tree import BatchTree

    return BatchTree.full_epoch(statements, epoch).root()


def batch_words(
    batches: Sequence[tuple[BatchStatement, Proof | CommittedProof]],
) -> tuple[list[int], bool]:
    """The flat ``words`` of a list of proven batches (per batch its statement words, proof[8], and for a committed
    proof its D) and whether they are committed (a mix raises): what addBatches and submitUpdate take."""
    kinds = {isinstance(p, CommittedProof) for _, p in batches}
    if len(kinds) > 1:
        raise ValueError("batches mix plain and committed proofs")
    words: list[int] = []
    for bt, p in batches:
        words += statement_words(bt)
        if isinstance(p, CommittedProof):
            proof, d = committed_proof_to_evm(p)
            words += proof + d
        else:
            words += proof_to_evm(p)
    return words, kinds == {True}


def committed_proof_to_evm(p: CommittedProof) -> tuple[list[int], list[int]]:
    """(uint256[8] proof, uint256[2] commitment = D.x D.y)."""
    return proof_to_evm(p.proof), [*g1_words(p.commitment)]


def batch_to_abi(bt: BatchStatement, proof: Proof | CommittedProof | Sequence[int]) -> tuple[Any, ...]:
    """The registry's Batch struct: root, first, last, count, equity, MM, under-MM count, shortfall,
    bad debt, liabilities[A], proof[8]. A committed proof's commitment goes apart (:func:`attestation_commitments`)."""
    if isinstance(proof, Proof):
        words = proof_to_evm(proof)
    elif isinstance(proof, CommittedProof):
        words = proof_to_evm(proof.proof)
    else:
        words = list(proof)
    return (
        bt.batch_root,
        bt.first_id_hash,
        bt.last_id_hash,
        bt.account_count,
        bt.total_equity,
        bt.total_mm,
        bt.under_mm_count,
        bt.total_shortfall,
        bt.total_bad_debt,
        list(bt.liabilities),
        words,
    )


def attestation_to_abi(att: EpochAttestation) -> tuple[Any, ...]:
    """The submission as one tuple: epoch, params commitment, market commitment, prices[A], declared accounts,
    unrepresented accounts, batches[] (each :func:`batch_to_abi`). Tests alter it field by field;
    :func:`submission_calls` turns it into the registry's calldata."""
    if att.market_commitment is None:
        raise ValueError("market_commitment is required")
    declared, unrepresented = att.coverage()
    return (
        att.epoch,
        att.params_commitment,
        att.market_commitment,
        list(att.prices),
        declared,
        unrepresented,
        [batch_to_abi(b, p) for b, p in att.batches],
    )


def is_committed_attestation(att: EpochAttestation) -> bool:
    """True when every batch proof is a CommittedProof, False when every one is a plain Proof; a mix raises."""
    kinds = {isinstance(p, CommittedProof) for _, p in att.batches}
    if len(kinds) > 1:
        raise ValueError("an attestation's batch proofs must all be plain or all be committed")
    return kinds == {True}


def attestation_commitments(att: EpochAttestation) -> list[list[int]]:
    """Each batch's D as (D.x, D.y), in batch order (the last two words of each batch under a committed key)."""
    out = []
    for i, (_, p) in enumerate(att.batches):
        if not isinstance(p, CommittedProof):
            raise ValueError(f"batch {i}: a committed attestation needs a CommittedProof per batch")
        out.append(committed_proof_to_evm(p)[1])
    return out


def submission_calls(
    payload: Sequence[Any], commitments: Sequence[Sequence[int]] | None = None, batch_count: int | None = None
) -> tuple[tuple[Any, ...], list[int]]:
    """The registry's calldata for an ABI-shaped submission (:func:`attestation_to_abi`'s tuple, possibly altered by
    a test): the ``EpochHeader`` (epoch, params, market, prices, declared, unrepresented, batch count) and the flat
    batch words (per batch its statement words, its proof[8], and with ``commitments`` its D). ``batch_count``
    defaults to the number of batches."""
    epoch, params, market, prices, declared, unrepresented, batches = payload
    words: list[int] = []
    for i, b in enumerate(batches):
        *fields, liabilities, proof = b
        words += [*fields, *liabilities, *proof]
        if commitments is not None and i < len(commitments):  # too few or too many: the registry names it
            words += list(commitments[i])
    if commitments is not None:
        words += [w for extra in commitments[len(batches) :] for w in extra]
    n = len(batches) if batch_count is None else batch_count
    return (epoch, params, market, list(prices), declared, unrepresented, n), words


def batch_seed(
    key_code_hash: bytes, committed: bool, n_public: int, shared_mask: int, shared: Sequence[int], words: Sequence[int]
) -> bytes:
    """``Groth16BatchVerifier.seedOf``: keccak256 over the key data contract's code hash, the kind, the input count,
    the shared mask, the shared inputs and one keccak256 digest per proof (its own inputs, proof words and D). Every
    weight of a call depends on every proof, commitment and input of it."""
    own = n_public - bin(shared_mask).count("1")
    stride = own + (10 if committed else 8)
    if stride <= 0 or len(words) % stride:
        raise ValueError(f"words: {len(words)} is not a multiple of the stride {stride}")
    w32 = [int(w).to_bytes(32, "big") for w in words]
    digests = [keccak(b"".join(w32[i : i + stride])) for i in range(0, len(w32), stride)]
    head = key_code_hash + bytes([int(committed)]) + n_public.to_bytes(32, "big") + shared_mask.to_bytes(32, "big")
    return keccak(head + b"".join(int(x).to_bytes(32, "big") for x in shared) + b"".join(digests))


def batch_weight(seed: bytes, b: int) -> int:
    """``Groth16BatchVerifier.weightOf``: 1 for the first proof, else 1 + the top 128 bits of keccak256(seed, b)."""
    return 1 if b == 0 else (int.from_bytes(keccak(seed + b.to_bytes(32, "big")), "big") >> 128) + 1


def params_doc_hash(document: bytes) -> bytes:
    """sha256 of the published parameter document (the registry's ``paramsDocHash``)."""
    return hashlib.sha256(document).digest()
