"""Micro-benchmark: N 64-bit range checks by bits (plain Groth16) vs by LogUp lookups (committed Groth16).

Reports constraints, witness time, dev-setup time and prove time for each; the last line is
``RESULT n=... bits_constraints=... lookup_constraints=... bits_prove_s=... lookup_prove_s=...``.

    python scripts/bench_lookups.py [N]     # default 1000
"""

from __future__ import annotations

import logging
import secrets
import sys
import time

from zkmargin.circuits.gadgets import range_check
from zkmargin.circuits.lookup import lookup_report, range_check_lookup
from zkmargin.circuits.r1cs import ConstraintSystem
from zkmargin.prover.committed import dev_setup_committed, prove_committed
from zkmargin.prover.groth16 import prove
from zkmargin.prover.setup import dev_setup
from zkmargin.verifier.committed import verify_committed
from zkmargin.verifier.groth16 import verify


def main(argv: list[str]) -> int:
    logging.disable(logging.WARNING)
    n = int(argv[0]) if argv else 1000
    values = {f"x{i}": secrets.randbelow(1 << 64) for i in range(n)}

    cs = ConstraintSystem()
    for i in range(n):
        range_check(cs, cs.input(f"x{i}"), 64, f"r{i}")
    r1 = cs.compile()
    t = time.perf_counter()
    pk = dev_setup(r1)
    t_setup = time.perf_counter() - t
    t = time.perf_counter()
    w = cs.witness(values)
    proof, public = prove(pk, w)
    t_bits = time.perf_counter() - t
    assert verify(pk.verifying_key(), proof, public)
    print(f"by bits:    {r1.n_constraints:>7} constraints  setup {t_setup:6.1f} s  witness+prove {t_bits:6.2f} s")

    cl = ConstraintSystem()
    for i in range(n):
        range_check_lookup(cl, cl.input(f"x{i}"), 64, f"r{i}")
    r2 = cl.compile()
    t = time.perf_counter()
    cpk = dev_setup_committed(r2)
    t_setup2 = time.perf_counter() - t
    t = time.perf_counter()
    cproof, cpublic = prove_committed(cpk, cl, values)
    t_lookup = time.perf_counter() - t
    assert verify_committed(cpk.vk, cproof, cpublic)
    rep = lookup_report(cl)
    print(
        f"by lookups: {r2.n_constraints:>7} constraints  setup {t_setup2:6.1f} s  witness+prove {t_lookup:6.2f} s"
        f"  (b={rep['limb_bits']}, {rep['range_queries']} queries, {rep['table_rows']} rows, "
        f"{len(cpk.commitment.bases) - 1} committed wires)"
    )
    print(
        f"RESULT n={n} bits_constraints={r1.n_constraints} lookup_constraints={r2.n_constraints} "
        f"bits_prove_s={t_bits:.2f} lookup_prove_s={t_lookup:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
