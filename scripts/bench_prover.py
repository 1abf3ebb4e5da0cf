#!/usr/bin/env python3
"""Groth16 proving: zkmargin vs snarkjs on the same .r1cs and .wtns, side by side.

For each size 2^k it builds one circuit (a chain of dense multiplications, so witness values and
MSM scalars are full-size field elements), exports circuit.r1cs and witness.wtns, then:
  * ours:    dev setup -> circuit.zkey, prove in a child process (`zkmargin prove` minus its
             self-check), wall time and peak RSS of that process;
  * snarkjs: `groth16 setup` on a prepared .ptau of its own, then `groth16 prove` in a child
             process on the same r1cs/wtns, wall time and peak RSS;
and prints the ratio ours/snarkjs. Each figure is the median of --runs runs. Our child also prints its
phase profile (wall seconds and busy cores per phase, key load included) and the witness generation of
the circuit (Python, `ConstraintSystem.witness`) is timed on its own, outside the prove time. The last
line is machine-readable; it starts with the issue-17 figures, then every per-size field:

    RESULT ratio_2e16=... ratio_2e18=... ratio_2e20=... rss_ratio_2e20=... verify_s=... ours_s_2e16=... ...

rss_ratio_2eK is ours/snarkjs peak RSS at the largest size K; verify_s is our verification CLI's median
wall time (process start included) at the smallest size. The package's bytecode is compiled first (what a
wheel install does; with PYTHONDONTWRITEBYTECODE set, an editable checkout would otherwise recompile every
module at every start of every measured child).

    python scripts/bench_prover.py --sizes 16 18 20
    python scripts/bench_prover.py --sizes 20 --runs 1 --reuse   # keep what a prior run built (circuit, keys)
    python scripts/bench_prover.py --sizes 16 18 20 --ours-only 20 --reuse   # no snarkjs at 2^20 (see below)
    python scripts/bench_prover.py --sizes 22 --ours-only 22 --runs 1   # peak RSS at 2^22 (built lean, see LEAN_FROM)

--ours-only K measures our side alone at 2^K (no snarkjs key, prove or ratio: `nan` in RESULT): snarkjs's
own setup at 2^20 (a prepared .ptau, then `groth16 setup`) takes longer than a loaded shared machine may
allow. Our proof is still checked by `snarkjs groth16 verify`. rss_ratio is then taken at the largest size
measured on both sides.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SNARKJS = REPO / "node_modules" / ".bin" / "snarkjs"
# From this size up the circuit and our key are made without Python circuit objects (chain_lean, write_dev_zkey):
# a ConstraintSystem, R1CS and decoded ProvingKey at 2^22 would need ~15 GB.
LEAN_FROM = 21


def build_circuit(log_n: int, out: Path) -> tuple[int, int, float]:
    """x_{i+1} = x_i * x_i + i, with x_0 public and the final x public: domain exactly 2^log_n.
    Returns the constraint and signal counts and the witness generation's wall time."""
    from zkmargin.circuits.formats import write_r1cs, write_wtns
    from zkmargin.circuits.r1cs import ConstraintSystem

    cs = ConstraintSystem()
    x = cs.input("x0", public=True)
    m = (1 << log_n) - 3 - 1  # + output constraint + (n_public + 1) QAP rows = 2^log_n
    for i in range(m):
        x = cs.mul(x, x, f"sq{i}") + i
    cs.output("y", x)
    r1cs = cs.compile()
    t0 = time.perf_counter()
    witness = cs.witness({"x0": 7})
    t_witness = time.perf_counter() - t0
    r1cs.check(witness)
    write_r1cs(r1cs, out / "circuit.r1cs")
    write_wtns(witness, out / "witness.wtns")
    return r1cs.n_constraints, r1cs.n_vars, t_witness


def chain_lean(log_n: int, out: Path) -> tuple[int, int, float, object]:
    """build_circuit's circuit written without a ConstraintSystem or R1CS object (at 2^22 those take ~10 GB):
    the same .r1cs and .wtns bytes (tested at small sizes), and the QAP the dev key is made from. Signals:
    0 one, 1 y (public output), 2 x0 (public input), 3 + i the i-th square; constraint i > 0 is
    (s_{i-1} + i - 1)^2 = s_i, then y - s_last - (m - 1) = 0 (circom's order of the LC terms kept)."""
    from zkmargin.circuits.field import R
    from zkmargin.circuits.formats import write_wtns
    from zkmargin.circuits.formats.binfile import build_binfile, u32, u64
    from zkmargin.circuits.formats.r1cs_file import MAGIC, SEC_CONSTRAINTS, SEC_HEADER, SEC_WIRE2LABEL, VERSION
    from zkmargin.prover.qap import Qap

    m = (1 << log_n) - 4  # squares; + the output constraint + 3 public QAP rows = 2^log_n
    nv = m + 3
    one = (1).to_bytes(32, "little")

    def lc(terms: list[tuple[int, int]]) -> bytes:
        return u32(len(terms)) + b"".join(u32(w) + (v % R).to_bytes(32, "little") for w, v in terms)

    a: list[tuple[int, int, int]] = []
    c: list[tuple[int, int, int]] = []
    cons = bytearray()
    t0 = time.perf_counter()
    witness = [1, 0, 7] + [0] * m
    x = 7
    for i in range(m):
        prev = 2 + i
        terms = [(prev, 1)] + ([(0, i - 1)] if i > 1 else [])
        t = lc(terms)
        cons += t + t + u32(1) + u32(3 + i) + one
        a.extend((i, w, v) for w, v in terms)
        c.append((i, 3 + i, 1))
        if i > 1:
            x = (x + i - 1) % R
        x = x * x % R
        witness[3 + i] = x
    y = (x + m - 1) % R
    witness[1] = y
    out_terms = [(1, 1), (2 + m, R - 1), (0, R - (m - 1))]
    cons += lc(out_terms) + lc([(0, 1)]) + u32(0)
    t_witness = time.perf_counter() - t0
    a.extend((m, w, v) for w, v in out_terms)
    b = a[: len(a) - 3]  # A = B in every square; the output row has B = one
    b.append((m, 0, 1))
    for j in range(3):
        a.append((m + 1 + j, j, 1))
    header = u32(32) + R.to_bytes(32, "little") + u32(nv) + u32(1) + u32(1) + u32(0) + u64(nv) + u32(m + 1)
    wmap = b"".join(u64(k) for k in range(nv))
    (out / "circuit.r1cs").write_bytes(
        build_binfile(MAGIC, VERSION, [(SEC_HEADER, header), (SEC_CONSTRAINTS, bytes(cons)), (SEC_WIRE2LABEL, wmap)])
    )
    del cons, wmap
    write_wtns(witness, out / "witness.wtns")
    return m + 1, nv, t_witness, Qap(1 << log_n, log_n, a, b, c)


def child_prove(zkey: str, wtns: str, out: str) -> None:
    """Runs in the measured child: load key and witness, prove, write the snarkjs JSON files."""
    from zkmargin.atomic import atomic_write_json
    from zkmargin.circuits.formats.wtns_file import read_wtns_packed
    from zkmargin.prover.cli_ops import load_proving_key
    from zkmargin.prover.groth16 import ProveStats, prove
    from zkmargin.verifier.snarkjs_json import proof_to_json, public_to_json

    t0, c0 = time.perf_counter(), time.process_time()
    pk = load_proving_key(Path(zkey))
    w = read_wtns_packed(wtns)  # as `zkmargin prove` reads it
    stats = ProveStats()
    stats.phases["load"] = time.perf_counter() - t0
    stats.cpu["load"] = time.process_time() - c0
    proof, public = prove(pk, w, stats=stats)
    atomic_write_json(Path(out) / "proof.json", proof_to_json(proof))
    atomic_write_json(Path(out) / "public.json", public_to_json(public))
    cores = stats.cores()
    print("PHASES " + " ".join(f"{k}={v:.3f}s/{cores.get(k, 0.0):.2f}c" for k, v in stats.phases.items()))


def measured(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stdout of a child process.

    Peak memory is the child's own VmHWM from /proc, polled while it runs: rusage's ru_maxrss is no
    good here because Linux carries the parent's high-water mark across fork+exec, and this parent
    holds the circuit in memory.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak_kb = 0
    done = threading.Event()

    def poll() -> None:
        nonlocal peak_kb
        status = Path(f"/proc/{proc.pid}/status")
        while not done.is_set():
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
            except (OSError, ValueError):
                pass
            done.wait(0.01)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    out, _ = proc.communicate()
    done.set()
    watcher.join()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed:\n{out}")
    return wall, peak_kb / 1024, out


def run(cmd: list[str], cwd: Path | None = None) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if res.returncode != 0:
        raise RuntimeError(f"{cmd} failed:\n{res.stdout}\n{res.stderr}")
    return res.stdout


def prepare_size(
    log_n: int, d: Path, reuse: bool = False, ours_only: bool = False
) -> tuple[int, int, float, float, float, float]:
    """Circuit, witness, our dev key and snarkjs's key (on a prepared .ptau of its own) in d. With ``reuse``,
    each of the three steps is skipped when its outputs are already there (a run cut short keeps its work)."""
    from zkmargin.circuits.formats import read_r1cs
    from zkmargin.prover.ptau import write_dev_prepared_ptau
    from zkmargin.prover.setup import dev_setup
    from zkmargin.prover.zkey import write_zkey

    def have(*names: str) -> bool:
        return reuse and all((d / f).exists() for f in names)

    t0 = time.perf_counter()
    lean = log_n >= LEAN_FROM and not have("ours.zkey")
    qap = None
    if lean:  # circuit files and QAP without Python circuit objects; the key straight to its file
        n_cons, n_vars, t_witness, qap = chain_lean(log_n, d)
        (d / "witness_s.txt").write_text(f"{t_witness:.6f}")
    elif have("circuit.r1cs", "witness.wtns", "witness_s.txt"):
        r1 = read_r1cs(d / "circuit.r1cs")
        n_cons, n_vars, t_witness = r1.n_constraints, r1.n_vars, float((d / "witness_s.txt").read_text())
        del r1
    else:
        n_cons, n_vars, t_witness = build_circuit(log_n, d)
        (d / "witness_s.txt").write_text(f"{t_witness:.6f}")
    t_build = time.perf_counter() - t0

    t0 = time.perf_counter()
    if lean:
        from zkmargin.prover.qap import Qap
        from zkmargin.prover.setup.dev import write_dev_zkey

        assert isinstance(qap, Qap)
        write_dev_zkey(qap, n_vars, 2, d / "ours.zkey")  # n_public: x0 and y
        del qap
    elif not have("ours.zkey"):
        write_zkey(dev_setup(read_r1cs(d / "circuit.r1cs")), d / "ours.zkey")
    t_setup_ours = time.perf_counter() - t0

    t0 = time.perf_counter()
    if not ours_only and not have("snarkjs.zkey", "vk_snarkjs.json"):
        write_dev_prepared_ptau(
            d / "pot.ptau", log_n, secrets.randbelow(1 << 250), secrets.randbelow(1 << 250), secrets.randbelow(1 << 250)
        )
        run([str(SNARKJS), "groth16", "setup", "circuit.r1cs", "pot.ptau", "snarkjs.zkey"], cwd=d)
        run([str(SNARKJS), "zkey", "export", "verificationkey", "snarkjs.zkey", "vk_snarkjs.json"], cwd=d)
        (d / "pot.ptau").unlink()  # the largest file of all, needed only by `groth16 setup`
    t_setup_snarkjs = time.perf_counter() - t0
    return n_cons, n_vars, t_build, t_setup_ours, t_setup_snarkjs, t_witness


def bench_size(log_n: int, runs: int, work: Path, reuse: bool = False, ours_only: bool = False) -> dict[str, float]:
    d = work / f"2e{log_n}"
    d.mkdir(parents=True, exist_ok=True)
    n_cons, n_vars, t_build, t_setup_ours, t_setup_snarkjs, t_witness = prepare_size(log_n, d, reuse, ours_only)

    ours, ours_mem, snark, snark_mem = [], [], [], []
    phases: list[str] = []
    for _ in range(runs):
        w, m, out = measured(
            [sys.executable, __file__, "--child-prove", str(d / "ours.zkey"), str(d / "witness.wtns"), str(d)]
        )
        ours.append(w)
        ours_mem.append(m)
        phases = [ln for ln in out.splitlines() if ln.startswith("PHASES")]
        if ours_only:
            continue
        w, m, _ = measured(
            [
                str(SNARKJS),
                "groth16",
                "prove",
                str(d / "snarkjs.zkey"),
                str(d / "witness.wtns"),
                str(d / "proof_snarkjs.json"),
                str(d / "public_snarkjs.json"),
            ]
        )
        snark.append(w)
        snark_mem.append(m)
    # both proofs must be valid: ours checked by snarkjs against our key's vk
    from zkmargin.atomic import atomic_write_json
    from zkmargin.prover.zkey import read_zkey
    from zkmargin.verifier.snarkjs_json import vk_to_json

    atomic_write_json(d / "vk_ours.json", vk_to_json(read_zkey(d / "ours.zkey", packed_only=True).verifying_key()))
    ok_ours = "OK" in run([str(SNARKJS), "groth16", "verify", "vk_ours.json", "public.json", "proof.json"], cwd=d)
    ok_snark = ours_only or "OK" in run(
        [str(SNARKJS), "groth16", "verify", "vk_snarkjs.json", "public_snarkjs.json", "proof_snarkjs.json"], cwd=d
    )
    if not (ok_ours and ok_snark):
        raise RuntimeError(f"a proof did not verify at 2^{log_n}: ours={ok_ours} snarkjs={ok_snark}")
    # verification, CLI against CLI (process start included on both sides), same proof and key
    zk = [sys.executable, "-m", "zkmargin.cli", "verify", "--vk", str(d / "vk_ours.json")]
    zk += ["--proof", str(d / "proof.json"), "--public", str(d / "public.json")]
    sj = [str(SNARKJS), "groth16", "verify", str(d / "vk_ours.json"), str(d / "public.json"), str(d / "proof.json")]
    v_ours = statistics.median(measured(zk)[0] for _ in range(runs))
    v_snark = statistics.median(measured(sj)[0] for _ in range(runs))
    res = {
        "constraints": n_cons,
        "vars": n_vars,
        "build_s": t_build,
        "setup_ours_s": t_setup_ours,
        "setup_snarkjs_s": t_setup_snarkjs,
        "witness_s": t_witness,
        "ours_s": statistics.median(ours),
        "snarkjs_s": statistics.median(snark) if snark else float("nan"),
        "ours_mb": statistics.median(ours_mem),
        "snarkjs_mb": statistics.median(snark_mem) if snark_mem else float("nan"),
        "verify_ours_s": v_ours,
        "verify_snarkjs_s": v_snark,
    }
    res["ratio"] = res["ours_s"] / res["snarkjs_s"]
    print(
        f"2^{log_n}: {n_cons} constraints | ours {res['ours_s']:.2f} s, {res['ours_mb']:.0f} MB | "
        f"snarkjs {res['snarkjs_s']:.2f} s, {res['snarkjs_mb']:.0f} MB | ratio {res['ratio']:.2f} | "
        f"verify ours {v_ours:.2f} s vs snarkjs {v_snark:.2f} s | witness generation (Python) {t_witness:.2f} s | "
        f"{phases[0] if phases else ''}",
        flush=True,
    )
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sizes", type=int, nargs="+", default=[12, 14, 16], help="log2 of the constraint count")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--work", default=str(REPO / "out" / "bench_prover"))
    ap.add_argument("--reuse", action="store_true", help="keep the circuit and keys a previous run left in --work")
    ap.add_argument("--ours-only", type=int, nargs="*", default=[], help="sizes measured without snarkjs (no ratio)")
    ap.add_argument("--child-prove", nargs=3, metavar=("ZKEY", "WTNS", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_prove:
        child_prove(*args.child_prove)
        return 0
    if not SNARKJS.exists():
        print("snarkjs is not installed: run `npm ci` (scripts/bootstrap --with-npm-tools)", file=sys.stderr)
        return 2
    import compileall

    for sub in ("zkmargin", "circuits", "prover", "verifier"):
        compileall.compile_dir(str(REPO / sub), quiet=1)
    results = {k: bench_size(k, args.runs, Path(args.work), args.reuse, k in args.ours_only) for k in args.sizes}
    print()
    print(
        "| constraints | ours prove (s) | snarkjs prove (s) | ratio ours/snarkjs | ours peak MB | snarkjs peak MB "
        "| ours verify (s) | snarkjs verify (s) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for k, r in results.items():
        print(
            f"| 2^{k} ({int(r['constraints'])}) | {r['ours_s']:.2f} | {r['snarkjs_s']:.2f} | {r['ratio']:.2f} | "
            f"{r['ours_mb']:.0f} | {r['snarkjs_mb']:.0f} | {r['verify_ours_s']:.2f} | {r['verify_snarkjs_s']:.2f} |"
        )
    both = [k for k in results if k not in args.ours_only] or list(results)
    top, low = max(both), min(results)
    fields = [f"ratio_2e{k}={r['ratio']:.3f}" for k, r in results.items()]
    fields += [f"rss_ratio_2e{top}={results[top]['ours_mb'] / results[top]['snarkjs_mb']:.3f}"]
    fields += [f"verify_s={results[low]['verify_ours_s']:.3f}"]
    for k, r in results.items():
        fields += [f"ours_s_2e{k}={r['ours_s']:.3f}", f"snarkjs_s_2e{k}={r['snarkjs_s']:.3f}"]
        fields += [f"ours_mb_2e{k}={r['ours_mb']:.0f}", f"snarkjs_mb_2e{k}={r['snarkjs_mb']:.0f}"]
        fields += [f"verify_ours_s_2e{k}={r['verify_ours_s']:.3f}"]
        fields += [f"verify_snarkjs_s_2e{k}={r['verify_snarkjs_s']:.3f}", f"witness_s_2e{k}={r['witness_s']:.3f}"]
    print("RESULT " + " ".join(fields))
    return 0


if __name__ == "__main__":
    sys.exit(main())
