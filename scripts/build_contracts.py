"""Compile contracts/*.sol with the pinned solc (npm solcjs) and write contracts/artifacts/*.json.

Standard-JSON in, standard-JSON out, with fixed settings, so the committed artifacts are reproducible
byte for byte (``--check`` and tests/chain/test_artifacts.py recompile and compare). Running the
project never needs Node: only rebuilding does.

    python scripts/build_contracts.py          # rebuild artifacts
    python scripts/build_contracts.py --check  # exit 1 if the committed artifacts differ
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CONTRACTS = REPO / "contracts"
ARTIFACTS = CONTRACTS / "artifacts"
SOLC_MODULE = REPO / "node_modules" / "solc"
# The solcjs CLI truncates large standard-JSON output on a pipe, so drive the module from node directly
# and let it write the result to a file.
_NODE_DRIVER = """
const solc = require(process.argv[1]);
const fs = require('fs');
if (process.argv[2] === '--version') { process.stdout.write(solc.version()); process.exit(0); }
fs.writeFileSync(process.argv[2], solc.compile(fs.readFileSync(0, 'utf8')));
"""

SOLC_VERSION = "0.8.28"
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 10_000},
    "evmVersion": "cancun",  # MCOPY in the pairing input; every major chain has it since 2024
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}
# Deployable contracts whose artifacts are committed (libraries and interfaces are inlined).
EXPORTED = (
    "Groth16Verifier",
    "Groth16CommittedVerifier",
    "Groth16BatchVerifier",
    "SolvencyRegistry",
    "FeedMedian",
    "BatchTree",
    "MockAggregatorV3",
    "MockERC20",
)
# Per-contract optimizer runs where the default would exceed the EIP-170 code-size limit (24,576 bytes):
# SolvencyRegistry at 10,000 runs is about 26 kB. Its gas is dominated by the precompiles, so fewer runs
# cost little (docs/contracts.md records the figures).
RUNS_OVERRIDE: dict[str, int] = {"SolvencyRegistry": 20}


class CompileError(RuntimeError):
    pass


def _node() -> str:
    exe = shutil.which("node")
    if exe is None:
        raise CompileError("node is not installed (needed only to rebuild contracts)")
    return exe


def solc_version() -> str:
    res = subprocess.run(
        [_node(), "-e", _NODE_DRIVER, str(SOLC_MODULE), "--version"], capture_output=True, text=True, timeout=120
    )
    if res.returncode != 0:
        raise CompileError(f"cannot load solc from {SOLC_MODULE}: {res.stderr[:500]}")
    return res.stdout.strip()


def compile_standard_json(sources: dict[str, str], settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Compile {source unit name: content} with solcjs; raise CompileError on any error."""
    if not SOLC_MODULE.exists():
        raise CompileError(f"{SOLC_MODULE} missing: run `npm ci`")
    version = solc_version()
    if not version.startswith(SOLC_VERSION):
        raise CompileError(f"solcjs {version} found, {SOLC_VERSION} pinned")
    inp = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sorted(sources.items())},
        "settings": settings if settings is not None else SETTINGS,
    }
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "out.json"
        res = subprocess.run(
            [_node(), "-e", _NODE_DRIVER, str(SOLC_MODULE), str(dest)],
            input=json.dumps(inp),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if res.returncode != 0 or not dest.exists():
            raise CompileError(f"solc failed: {res.stderr[:1000]}")
        try:
            out: dict[str, Any] = json.loads(dest.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise CompileError(f"solc output is not JSON: {e}") from e
    errors = [e for e in out.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileError("\n".join(e.get("formattedMessage", e.get("message", "")) for e in errors))
    return out


def project_sources() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(CONTRACTS.glob("*.sol"))}


def build_artifacts() -> dict[str, str]:
    """Return {file name: JSON text} for every exported contract."""
    sources = project_sources()
    outputs: dict[int, dict[str, Any]] = {}
    arts: dict[str, str] = {}
    for runs in sorted({SETTINGS["optimizer"]["runs"], *RUNS_OVERRIDE.values()}):
        settings = {**SETTINGS, "optimizer": {**SETTINGS["optimizer"], "runs": runs}}
        outputs[runs] = compile_standard_json(sources, settings)
    for source, contracts in sorted(outputs[SETTINGS["optimizer"]["runs"]]["contracts"].items()):
        for name in sorted(contracts):
            if name not in EXPORTED:
                continue
            runs = RUNS_OVERRIDE.get(name, SETTINGS["optimizer"]["runs"])
            settings = {**SETTINGS, "optimizer": {**SETTINGS["optimizer"], "runs": runs}}
            c = outputs[runs]["contracts"][source][name]
            art = {
                "contractName": name,
                "sourceName": f"contracts/{source}",
                "compiler": {"name": "solcjs", "version": SOLC_VERSION, "settings": settings},
                "abi": c["abi"],
                "bytecode": "0x" + c["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + c["evm"]["deployedBytecode"]["object"],
            }
            arts[f"{name}.json"] = json.dumps(art, indent=1, sort_keys=True) + "\n"
    missing = {f"{n}.json" for n in EXPORTED} - set(arts)
    if missing:
        raise CompileError(f"contracts missing from the compiler output: {sorted(missing)}")
    return arts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare with the committed artifacts, write nothing")
    args = ap.parse_args(argv)
    arts = build_artifacts()
    if args.check:
        bad = [n for n, t in arts.items() if not (ARTIFACTS / n).exists() or (ARTIFACTS / n).read_text() != t]
        for n in bad:
            print(f"differs: contracts/artifacts/{n}", file=sys.stderr)
        return 1 if bad else 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for n, t in arts.items():
        (ARTIFACTS / n).write_text(t, encoding="utf-8")
        print(f"wrote contracts/artifacts/{n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
