"""A cut or hostile transcript container is reported as malformed (named), never ``struct.error``; the split modules
keep the old import path working."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from zkmargin.circuits.r1cs import R1CS, ConstraintSystem
from zkmargin.prover.setup import run_ceremony
from zkmargin.verifier import setup_transcript
from zkmargin.verifier.setup_format import ContainerError, decode_container, encode_container
from zkmargin.verifier.setup_transcript import KIND_G1, KIND_U64, sha256_hex, verify_transcript


def _r1cs() -> R1CS:
    cs = ConstraintSystem()
    x, y = cs.input("x"), cs.input("y")
    cs.output("out", cs.mul(cs.mul(x, y, "xy"), x + 3, "z"))
    return cs.compile()


@pytest.fixture(scope="module")
def transcript(tmp_path_factory: pytest.TempPathFactory) -> tuple[R1CS, Path]:
    r1cs = _r1cs()
    d = tmp_path_factory.mktemp("ceremony")
    run_ceremony(r1cs, d, 1, 1, None, None)
    return r1cs, d / "transcript" if (d / "transcript").is_dir() else d


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "t"
    shutil.copytree(src, dst)
    return dst


def test_every_truncation_of_a_container_is_a_container_error() -> None:
    data = encode_container([("header", KIND_U64, [1, 2, 3]), ("pts", KIND_G1, [None, None])])
    assert decode_container(data)["header"] == [1, 2, 3]
    for cut in range(len(data)):
        with pytest.raises(ContainerError):
            decode_container(data[:cut])


def test_unknown_kind_and_huge_count_are_container_errors() -> None:
    good = encode_container([("a", KIND_U64, [7])])
    kind_at = 16 + 2 + 1
    with pytest.raises(ContainerError, match="unknown kind"):
        decode_container(good[:kind_at] + bytes([9]) + good[kind_at + 1 :])
    huge = good[: kind_at + 1] + (2**63).to_bytes(8, "little") + good[kind_at + 9 :]
    with pytest.raises(ContainerError, match="truncated"):
        decode_container(huge)


def test_cut_transcript_file_is_malformed_not_a_traceback(transcript: tuple[R1CS, Path], tmp_path: Path) -> None:
    r1cs, src = transcript
    assert verify_transcript(src, r1cs).ok
    d = _copy(src, tmp_path)
    meta = json.loads((d / "ceremony.json").read_text())
    rec = meta["phase2"]["final_key"]
    f = d / rec["file"]
    f.write_bytes(f.read_bytes()[:-100])
    rec["sha256"] = sha256_hex(f.read_bytes())  # the forger rewrites the hash too
    (d / "ceremony.json").write_text(json.dumps(meta))
    rep = verify_transcript(d, r1cs)
    assert not rep.ok and rep.malformed is not None and "truncated" in rep.malformed, str(rep)
    assert "transcript.well_formed" in rep.failed()


@pytest.mark.parametrize("path", ["/etc/passwd", "../../outside.bin"])
def test_transcript_paths_stay_inside_the_transcript(path: str, transcript: tuple[R1CS, Path], tmp_path: Path) -> None:
    r1cs, src = transcript
    d = _copy(src, tmp_path)
    meta = json.loads((d / "ceremony.json").read_text())
    meta["phase2"]["final_key"]["file"] = path
    (d / "ceremony.json").write_text(json.dumps(meta))
    rep = verify_transcript(d, r1cs)
    assert rep.malformed is not None and "final" in rep.malformed, str(rep)


def test_transcript_symlink_is_malformed(transcript: tuple[R1CS, Path], tmp_path: Path) -> None:
    r1cs, src = transcript
    d = _copy(src, tmp_path)
    rec = json.loads((d / "ceremony.json").read_text())["phase2"]["final_key"]
    (d / rec["file"]).unlink()
    (d / rec["file"]).symlink_to("/dev/zero")
    rep = verify_transcript(d, r1cs)
    assert rep.malformed is not None and "symlink" in rep.malformed


def test_old_import_path_re_exports_the_split_modules() -> None:
    from zkmargin.verifier import setup_checks, setup_format, setup_proofs

    for name in setup_transcript.__all__:
        assert hasattr(setup_transcript, name), name
    assert setup_transcript.Phase1Accumulator is setup_format.Phase1Accumulator
    assert setup_transcript.KnowledgeProof is setup_proofs.KnowledgeProof
    assert setup_transcript.TranscriptReport is setup_checks.TranscriptReport
    for mod in (setup_format, setup_proofs, setup_checks, setup_transcript):
        assert len(Path(mod.__file__ or "").read_text().splitlines()) <= 400, mod.__name__
