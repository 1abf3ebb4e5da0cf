#!/usr/bin/env python3
"""Development trusted setup (``dev_setup``): the C kernel's path against the pure-Python reference.

For each size 2^k it builds bench_prover's circuit (a chain of dense multiplications, domain exactly
2^k) in memory and times ``dev_setup`` on it, split into phases: the R1CS -> QAP reduction, the key's
scalars (Lagrange basis at tau, the QAP columns, the mixes) and the fixed-base multiplications plus
decoding into the ProvingKey. ``write_zkey`` is timed on its own. Sizes in --python-sizes are also set up
with ``ZKMARGIN_PURE_PYTHON=1`` (the reference path: hours at 2^20) and the two keys compared. Each
size runs in a child process so that its peak RSS (VmHWM) is its own. The last line:

    RESULT setup_s_2e16=... setup_s_2e20=... python_setup_s_2e16=... speedup_2e16=... ...

    python scripts/bench_setup.py --sizes 16 20 --python-sizes 16
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def build_r1cs(log_n: int):  # type: ignore[no-untyped-def]
    from zkmargin.circuits.r1cs import ConstraintSystem

    cs = ConstraintSystem()
    x = cs.input("x0", public=True)
    for i in range((1 << log_n) - 4):  # + output constraint + (n_public + 1) QAP rows = 2^log_n
        x = cs.mul(x, x, f"sq{i}") + i
    cs.output("y", x)
    return cs.compile()


def child(log_n: int, pure: bool, out: str) -> None:
    """Runs in the measured child: one setup, its phases, optionally the key written to ``out``."""
    from zkmargin.circuits import msm_native
    from zkmargin.prover.qap import qap_from_r1cs
    from zkmargin.prover.setup import SetupSecrets, dev_setup
    from zkmargin.prover.zkey import write_zkey

    r1cs = build_r1cs(log_n)
    secrets = SetupSecrets(11, 22, 33, 44, 55) if out else SetupSecrets.random()
    res: dict[str, float | str] = {"native": str(msm_native.available())}
    t0 = time.perf_counter()
    qap_from_r1cs(r1cs)
    res["qap_s"] = time.perf_counter() - t0  # also inside dev_setup: reported to split its time
    if not pure:
        from zkmargin.prover.setup.dev import key_scalars_native

        qap = qap_from_r1cs(r1cs)
        t0 = time.perf_counter()
        key_scalars_native(qap, r1cs.n_vars, r1cs.n_public, secrets)
        res["scalars_s"] = time.perf_counter() - t0
        del qap
    t0, c0 = time.perf_counter(), time.process_time()
    pk = dev_setup(r1cs, secrets=secrets)
    res["setup_s"] = time.perf_counter() - t0
    res["setup_cpu_s"] = time.process_time() - c0
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        write_zkey(pk, out or Path(d) / "k.zkey")
        res["write_zkey_s"] = time.perf_counter() - t0
    print("CHILD " + json.dumps(res), flush=True)


def measured(log_n: int, pure: bool, out: str = "") -> dict[str, float | str]:
    env = dict(os.environ)
    if pure:
        env["ZKMARGIN_PURE_PYTHON"] = "1"
    cmd = [sys.executable, __file__, "--child", str(log_n), "1" if pure else "0", out]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    peak = 0
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    text = proc.stdout.read() if proc.stdout else ""
    rows = [ln for ln in text.splitlines() if ln.startswith("CHILD ")]
    if proc.returncode != 0 or not rows:
        raise RuntimeError(f"setup child failed at 2^{log_n} (pure={pure}):\n{text}")
    res: dict[str, float | str] = json.loads(rows[-1][6:])
    res["peak_mb"] = peak / 1024
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sizes", type=int, nargs="+", default=[12, 16])
    ap.add_argument("--python-sizes", type=int, nargs="*", default=[12], help="also run the pure-Python reference")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(int(args.child[0]), args.child[1] == "1", args.child[2])
        return 0
    fields: list[str] = []
    for k in args.sizes:
        with tempfile.TemporaryDirectory() as d:
            same_keys = ""
            r = measured(k, False, str(Path(d) / "native.zkey") if k in args.python_sizes else "")
            print(f"2^{k} native: {json.dumps(r)}", flush=True)
            fields += [f"setup_s_2e{k}={float(r['setup_s']):.2f}", f"setup_mb_2e{k}={float(r['peak_mb']):.0f}"]
            fields += [f"write_zkey_s_2e{k}={float(r['write_zkey_s']):.2f}"]
            if k in args.python_sizes:
                p = measured(k, True, str(Path(d) / "python.zkey"))
                print(f"2^{k} python: {json.dumps(p)}", flush=True)
                same = (Path(d) / "native.zkey").read_bytes() == (Path(d) / "python.zkey").read_bytes()
                same_keys = f" same_zkey_2e{k}={int(same)}"
                fields += [f"python_setup_s_2e{k}={float(p['setup_s']):.2f}"]
                fields += [f"speedup_2e{k}={float(p['setup_s']) / float(r['setup_s']):.1f}"]
                if not same:
                    raise RuntimeError(f"2^{k}: the native and Python keys differ for the same secrets")
            fields[-1] += same_keys
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("RESULT " + " ".join(fields))
    return 0


if __name__ == "__main__":
    sys.exit(main())
