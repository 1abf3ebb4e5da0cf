"""The command line never crashes: exit 0 ok, 1 check failed, 2 bad input (naming the option, nothing written),
3 internal error (one line and a hint, the traceback only with -v)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from zkmargin import cli
from zkmargin.cli import main

TINY = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "tiny"


def verify_args(**over: str) -> list[str]:
    files = {"vk": TINY / "verification_key.json", "proof": TINY / "proof.json", "public": TINY / "public.json"}
    files.update({k: Path(v) for k, v in over.items()})
    return ["verify", *(x for k, v in files.items() for x in (f"--{k}", str(v)))]


def test_verify_fixture_ok_and_forged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(verify_args()) == 0
    pub = tmp_path / "public.json"
    pub.write_text('["1", "2"]')
    assert main(verify_args(public=str(pub))) == 1
    assert "INVALID" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("option", "make", "needle"),
    [
        ("--proof", lambda d: d, "not a regular file"),  # a directory
        ("--proof", lambda d: d / "missing.json", "file not found"),
        ("--proof", lambda d: (d / "p.json", (d / "p.json").write_bytes(b"\x80\x81\xfe"))[0], "not UTF-8"),
        ("--vk", lambda d: (d / "v.json", (d / "v.json").write_text("[]"))[0], "expected a JSON object"),
        ("--public", lambda d: (d / "q.json", (d / "q.json").write_text('["x"]'))[0], "decimal string"),
    ],
)
def test_verify_bad_input_exits_2_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, make: object, needle: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    assert main(verify_args(**{option[2:]: str(path)})) == 2
    err = capsys.readouterr().err
    assert f"error: {option}:" in err and needle in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--accounts", "0"], "--accounts: must be at least 1"),
        (["--accounts", "-5"], "--accounts: must be at least 1"),
        (["--batch", "0"], "--batch: must be at least 1"),
        (["--accounts", "ten"], "invalid int value"),
        (["--registry", "0x" + "11" * 20], "--registry: needs --rpc"),
        (["--devnet", "--rpc", "http://127.0.0.1:1"], "--devnet"),
        (["--rpc", "http://127.0.0.1:1"], "--rpc: no JSON-RPC node answering"),
        (["--rpc", "not-a-url"], "--rpc: expected an http"),
    ],
)
def test_demo_bad_options_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *args]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()  # no key, no secrets, no bundle
    assert list(tmp_path.iterdir()) == []


def test_demo_out_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["demo", "--out", str(f)]) == 2
    assert "--out" in capsys.readouterr().err and f.read_text() == "x"


def test_other_commands_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["setup", "--r1cs", str(tmp_path / "none.r1cs"), "--out", str(tmp_path / "k")]) == 2
    assert "--r1cs" in capsys.readouterr().err and not (tmp_path / "k").exists()
    assert main(["setup", "--r1cs", str(TINY / "circuit.r1cs"), "--out", str(tmp_path / "k"), "--contributions",
                 "0"]) == 2  # fmt: skip
    assert "--contributions" in capsys.readouterr().err and not (tmp_path / "k").exists()
    assert main(["prove", "--zkey", str(tmp_path), "--wtns", str(tmp_path / "w"), "--out", str(tmp_path / "p")]) == 2
    assert "--wtns" in capsys.readouterr().err
    assert main(["audit", "--bundle", str(tmp_path / "nope")]) == 2
    assert "--bundle" in capsys.readouterr().err
    assert main(["chain", "status", "--rpc", "http://127.0.0.1:1", "--registry", "0x" + "11" * 20]) == 2
    assert "--rpc" in capsys.readouterr().err
    assert main(["chain", "deploy", "--rpc", "http://127.0.0.1:1", "--bundle", str(tmp_path / "b")]) == 2
    assert not (tmp_path / "b").exists()
    assert main(["nonsense"]) == 2


def test_internal_error_is_exit_3_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(_args: object) -> int:
        raise RuntimeError("kaboom\nsecond line")

    monkeypatch.setattr(cli, "_cmd_doctor", boom)
    assert main(["doctor"]) == 3
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: kaboom" in err and "second line" not in err
    assert "rerun with -v" in err and "Traceback" not in err
    assert main(["-v", "doctor"]) == 3
    assert "Traceback" in capsys.readouterr().err
    assert main(["doctor", "-v"]) == 3  # -v after the subcommand too
    assert "Traceback" in capsys.readouterr().err


def test_help_is_whole_sentences(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "zero-knowledge proofs" in out and "checked on-chain." in out and "Exit codes: 0 ok" in out
    for cmd in ("verify", "demo", "doctor", "chain", "audit", "user", "bundle"):
        assert cmd in out
    assert main(["demo", "--help"]) == 0
    assert "--devnet" in capsys.readouterr().out


def test_doctor(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for needle in ("python >= 3.11", "C kernel", "embedded chain (py-evm)", "contract artifacts", "price history",
                   "node", "snarkjs", "anvil", "doctor: OK"):  # fmt: skip
        assert needle in out


def test_console_script_runs_as_a_process(tmp_path: Path) -> None:
    exe = shutil.which("zkmargin", path=str(Path(sys.executable).parent))
    assert exe is not None
    argv = [exe, "verify", "--vk", str(TINY / "verification_key.json"), "--proof", str(tmp_path), "--public",
            str(TINY / "public.json")]  # fmt: skip
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--proof" in r.stderr and "Traceback" not in r.stderr


def test_missing_extra_is_exit_2_naming_it(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def needs_dask(_args: object) -> int:
        raise ModuleNotFoundError("No module named 'dask'", name="dask")

    monkeypatch.setattr(cli, "_cmd_doctor", needs_dask)
    assert main(["doctor"]) == 2
    assert "pip install 'zkmargin[distributed]'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "circuit"),
    [
        ([], "venue"),  # issue 15: the demo's own default is the venue-scale exchange
        (["--accounts", "10000"], "venue"),
        (["--proof-system", "plain"], "slots"),  # plain Groth16: only the fixed-slot circuit has it
        (["--proof-system", "committed"], "venue"),
        (["--rpc", "http://127.0.0.1:8545"], "slots"),
        (["--rpc", "http://127.0.0.1:8545", "--registry", "0x" + "11" * 20], "slots"),
        (["--devnet"], "slots"),
        (["--circuit", "venue", "--rpc", "http://127.0.0.1:8545"], "venue"),  # an explicit choice is kept
        (["--circuit", "slots"], "slots"),
    ],
)
def test_demo_circuit_default(args: list[str], circuit: str) -> None:
    from zkmargin.cli import build_parser
    from zkmargin.commands.operator import demo_circuit

    ns = build_parser().parse_args(["demo", *args])
    assert (ns.circuit or demo_circuit(ns)) == circuit
