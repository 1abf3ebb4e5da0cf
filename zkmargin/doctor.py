"""``zkmargin doctor``: what this installation can do, checked rather than assumed.

Required (a failure makes the exit code 1): Python >= 3.11, the core dependencies, the package data (contract
artifacts, the price-history CSV, read through importlib.resources) and the embedded chain (web3 + py-evm).
Reported (never a failure): the C kernel (else the pure-Python arithmetic, 10-20x slower proving), the optional
extras (report, distributed) and the Node tools used by the tests and ``--devnet`` (node, snarkjs, anvil).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

from zkmargin.verifier.report import Report

CORE = ("py_ecc", "gmpy2", "numpy", "pydantic", "rich", "web3", "eth_tester", "eth")
EXTRAS = {"report": "matplotlib", "distributed": "distributed", "parquet": "pyarrow"}


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _node_tool(name: str) -> str | None:
    for root in (Path.cwd(), Path(__file__).resolve().parent.parent):
        p = root / "node_modules" / ".bin" / name
        if p.exists():
            return str(p)
    return shutil.which(name)


def _run_version(cmd: list[str]) -> str:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"did not run ({type(e).__name__})"
    text = (r.stdout or r.stderr).strip().splitlines()
    return text[0][:80] if text else f"exit {r.returncode}"


def _package_data(rep: Report) -> None:
    from zkmargin import resources

    try:
        ok = all("abi" in resources.contract_artifact(n) for n in resources.CONTRACTS)
        rep.add("package data: contract artifacts", ok, ", ".join(resources.CONTRACTS))
    except (OSError, ValueError) as e:
        rep.add("package data: contract artifacts", False, f"{type(e).__name__}: {e}")
    try:
        head = resources.price_history_text().splitlines()[:1]
        rep.add(
            "package data: price history", bool(head), f"{resources.PRICE_HISTORY} ({head[0] if head else 'empty'})"
        )
    except (OSError, ValueError) as e:
        rep.add("package data: price history", False, f"{type(e).__name__}: {e}")


def diagnose() -> Report:
    """Every check; ``report.ok`` is False only when something required is missing."""
    from zkmargin import __version__

    rep = Report(f"zkmargin {__version__} at {Path(__file__).resolve().parent}")
    rep.add("python >= 3.11", sys.version_info >= (3, 11), f"{sys.version.split()[0]} ({sys.executable})")
    missing = []
    for mod in CORE:
        try:
            importlib.import_module(mod)
        except ImportError:
            missing.append(mod)
    rep.add("core dependencies", not missing, "missing: " + ", ".join(missing) if missing else
            f"web3 {_version('web3')}, py-evm {_version('py-evm')}, numpy {_version('numpy')}")  # fmt: skip
    _package_data(rep)
    try:
        from zkmargin.verifier.chain import connect

        w3 = connect(None)
        rep.add("embedded chain (py-evm)", w3.eth.block_number >= 0, f"chain id {w3.eth.chain_id}")
    except Exception as e:  # any failure here is the installation's, reported not raised
        rep.add("embedded chain (py-evm)", False, f"{type(e).__name__}: {e}")

    from zkmargin.circuits import msm_native

    built = msm_native._bn254 is not None
    if msm_native.available():
        rep.add("C kernel", True, "active (MSM, NTT, pairing in C)")
    elif built:
        rep.warn("C kernel", "built but disabled by ZKMARGIN_PURE_PYTHON: pure-Python arithmetic (slow proving)")
    else:
        rep.warn("C kernel", "not built (no C compiler at install?): pure-Python arithmetic, 10-20x slower proving; "
                             "install a compiler and reinstall")  # fmt: skip
    for extra, mod in EXTRAS.items():
        try:
            importlib.import_module(mod)
            rep.add(f"extra [{extra}]", True, f"{mod} {_version(mod)}")
        except ImportError:
            rep.warn(f"extra [{extra}]", f"{mod} not installed: pip install 'zkmargin[{extra}]'")
    node = shutil.which("node")
    if node:
        rep.add("node", True, _run_version([node, "--version"]))
    else:
        rep.warn("node", "not found: only the interoperability tests and `demo --devnet` need it")
    for tool, why in (("snarkjs", "interoperability tests"), ("anvil", "`zkmargin demo --devnet`, chain tests")):
        path = _node_tool(tool)
        if path and (node or tool == "anvil"):
            rep.add(tool, True, path)
        else:
            rep.warn(tool, f"not found ({why}): npm install (scripts/bootstrap --with-npm-tools)")
    if os.environ.get("ZKMARGIN_PURE_PYTHON"):
        rep.warn("environment", "ZKMARGIN_PURE_PYTHON is set")
    return rep
