"""Gas of a committed (commitment-slot) Groth16 proof against a plain one with the same supplied public inputs.

Both verifiers run on the embedded py-evm; gas is the transaction receipt's gasUsed (never an
estimate). The circuits are small stand-ins: verification gas depends only on the number of public
inputs (and on whether they are zero: every input here is non-zero, the worst case).

    python scripts/bench_committed_gas.py [N ...]     # default: 3 20

Prints one ``RESULT n_public=... plain=... committed=... ratio=...`` line per N.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from zkmargin.circuits.r1cs import ConstraintSystem
from zkmargin.prover.committed import dev_setup_committed, prove_committed
from zkmargin.prover.groth16 import prove
from zkmargin.prover.operator.chain_writes import SigningChain, deploy_verifier
from zkmargin.prover.operator.committed_deploy import deploy_committed_verifier
from zkmargin.prover.setup import dev_setup
from zkmargin.verifier.chain import connect, proof_to_evm
from zkmargin.verifier.committed_chain import committed_proof_to_evm


def _inputs(n: int) -> dict[str, int]:
    return {"x": 5, **{f"p{i}": 1000 + i for i in range(n)}}


def _circuit(n: int, committed: bool) -> ConstraintSystem:
    """n public inputs; x private. The committed variant commits to x and uses the challenge."""
    cs = ConstraintSystem()
    x = cs.input("x")
    ps = [cs.input(f"p{i}", public=True) for i in range(n)]
    t = cs.mul(x, ps[0] if ps else x, "t")
    if committed:
        c = cs.commit([x, t])
        cs.mul(c, t, "ct")
    return cs


def measure(n: int, chain: SigningChain | None = None) -> dict[str, Any]:
    """{'n_public', 'plain', 'committed', 'ratio'} for n supplied public inputs."""
    ch = chain if chain is not None else SigningChain(connect())
    plain_cs = _circuit(n, committed=False)
    pk = dev_setup(plain_cs.compile())
    proof, public = prove(pk, plain_cs.witness(_inputs(n)))
    v = deploy_verifier(ch, pk.verifying_key())
    plain_gas = ch.transact(v.functions.verifyProof(proof_to_evm(proof), public))["gasUsed"]

    com_cs = _circuit(n, committed=True)
    cpk = dev_setup_committed(com_cs.compile())
    cproof, cpublic = prove_committed(cpk, com_cs, _inputs(n))
    assert cpublic == public
    cv = deploy_committed_verifier(ch, cpk.vk)
    p8, d2 = committed_proof_to_evm(cproof)
    com_gas = ch.transact(cv.functions.verifyProof(p8, d2, cpublic))["gasUsed"]
    return {"n_public": n, "plain": plain_gas, "committed": com_gas, "ratio": com_gas / plain_gas}


def main(argv: list[str]) -> int:
    logging.disable(logging.WARNING)  # the dev-setup warning, once per key
    chain = SigningChain(connect())
    for n in [int(a) for a in argv] or [3, 20]:
        r = measure(n, chain)
        print(
            f"RESULT n_public={r['n_public']} plain={r['plain']} committed={r['committed']} "
            f"extra={r['committed'] - r['plain']} ratio={r['ratio']:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
