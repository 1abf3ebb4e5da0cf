"""The audit's trusted-setup checks: who could forge proofs under the epoch's key?

Groth16 is sound only if nobody knows the setup's trapdoor. Phase 1 (tau, alpha, beta) alone is enough to forge (see
``public_phase1``), and so is phase 2's delta. The audit therefore **fails**, rather than warns, unless:

* phase 1 is a public powers-of-tau file (the Hermez/PPoT finals, identified by BLAKE2b), and
* the phase-2 key carries snarkjs-format contributions whose chain re-checks (``zkey_ceremony``: the same checks as
  ``snarkjs zkey verify``) and at least one of them is signed by the registry's governance address, which the
  operator does not hold, and
* the bundle's verifying key is the key the ceremony produced.

A committed key (a setup record with ``commitment_key``, or a committed verifying key) passes the same gate
through its own ceremony check (``committed_ceremony``: delta, eta and k contributions, the transcript at
``transcript`` or ``<zkey dir>/transcript``): public phase 1, the whole transcript re-checked against phase 1 and the
circuit, the bundle's key (its ``[eta]_2`` included) the transcript's final key, that eta not a value anyone can name
(an all-skipped eta = 1 leaves the public bases ``[L_i]_1``), a contribution signed by governance.

The one exception is a registry deployed in explicit development mode (``isSolvent()`` reports it): there a
development setup or an operator-only ceremony is reported as a loud warning. Without a registry the governance
check cannot run and a development setup fails (the audit cannot know the registry's mode).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from zkmargin.circuits.formats.binfile import BinFileError, read_binfile
from zkmargin.circuits.formats.points import decode_g1_lem
from zkmargin.circuits.r1cs import R1CS

from .committed import CommittedVerifyingKey
from .committed_ceremony import TRANSCRIPT_DIR, read_transcript, verify_committed_ceremony
from .contributor_identity import contribution_signers
from .public_phase1 import PUBLIC_PHASE1, blake2b_file
from .report import Report
from .types import VerifyingKey
from .zkey_ceremony import read_zkey_for_audit, verify_zkey_ceremony


def _key_ic(zkey: Path, n_public: int) -> list[Any]:
    return list(decode_g1_lem(read_binfile(zkey, b"zkey", 1).section(3, "IC"), n_public + 1, "IC"))


def audit_setup(
    rep: Report,
    setup: Mapping[str, Any],
    base: Path,
    r1cs: Callable[[], R1CS],
    vk: VerifyingKey | CommittedVerifyingKey,
    governance: str | None,
    development_mode: bool | None,
    trusted_phase1: Collection[str] = PUBLIC_PHASE1,
) -> None:
    """Add the setup checks. ``setup`` is the manifest's record (kind, relative paths of the key and the phase-1
    file), ``base`` the directory they are relative to; ``governance``/``development_mode`` come from the registry
    (None without one); ``r1cs`` builds the circuit only when a full re-check runs."""
    dev_ok = development_mode is True
    kind = setup.get("kind")
    if kind == "development":
        if dev_ok:
            rep.warn("setup", "DEVELOPMENT single-party setup on a registry deployed in development mode")
        else:
            rep.add(
                "setup: not a development (single-party) setup",
                False,
                "whoever ran it can forge proofs; only a registry deployed in development mode may use one"
                + ("" if development_mode is False else " (no registry given to tell)"),
            )
        return
    zrel, prel = setup.get("zkey"), setup.get("ptau")
    committed = setup.get("commitment_key") is not None or isinstance(vk, CommittedVerifyingKey)
    crel = setup.get("commitment_key")
    trel = setup.get("transcript")
    root = base.resolve().parent  # the bundle root: setup files live in its setups/ (never followed outside it)
    for rel in (zrel, prel, crel, trel):
        if rel and root not in (base / rel).resolve().parents:
            rep.add("setup: key files inside the bundle root", False, f"{rel} resolves outside {root}")
            return
    zkey = (base / zrel).resolve() if zrel else None
    if zkey is None or not zkey.is_file():
        rep.add("setup: ceremony key (.zkey) present", False, str(zrel))
        return
    try:
        key = read_zkey_for_audit(zkey)
    except (BinFileError, OSError, ValueError) as e:
        rep.add("setup: ceremony key (.zkey) readable", False, str(e))
        return
    if committed:
        ck = (base / crel).resolve() if crel else None
        tr = (base / trel).resolve() if trel else zkey.parent / TRANSCRIPT_DIR
        _audit_committed(rep, zkey, ck, tr, (base / prel).resolve() if prel else None, r1cs, vk, governance, dev_ok,
                         trusted_phase1)  # fmt: skip
        return
    if not isinstance(vk, VerifyingKey):
        rep.add("setup: the bundle's verifying key is the ceremony key's", False, "a committed key for a plain setup")
        return
    same_key = (key.alpha1, key.beta2, key.gamma2, key.delta2) == (vk.alpha1, vk.beta2, vk.gamma2, vk.delta2) and (
        _key_ic(zkey, key.n_public) == list(vk.ic)
    )
    rep.add("setup: the bundle's verifying key is the ceremony key's", same_key)

    ptau = (base / prel).resolve() if prel else None
    public_p1 = ptau is not None and ptau.is_file() and blake2b_file(ptau) in trusted_phase1
    _gate(rep, dev_ok, "setup: phase 1 is a public powers-of-tau file (not the operator's own)", public_p1,
          "a phase 1 run by the operator alone lets it forge proofs (tau, alpha, beta known)")  # fmt: skip
    if ptau is not None and ptau.is_file():
        cer = verify_zkey_ceremony(zkey, r1cs(), ptau)
        rep.add(
            "setup: phase-2 contribution chain re-checked (snarkjs zkey verify's checks)",
            cer.ok,
            f"{len(key.mpc.contributions)} contributions"
            if cer.ok
            else (cer.malformed or ", ".join(c.name for c in cer.failed()[:4])),
        )
    signers = [s.lower() for s in contribution_signers(key.mpc) if s]
    if governance is None:
        rep.warn("setup: contribution signed by governance", f"not checked without a registry (signers: {signers})")
        return
    _gate(rep, dev_ok, "setup: a phase-2 contribution is signed by governance (not only the operator)",
          governance.lower() in signers, f"signers: {signers or 'none'}")  # fmt: skip


def _audit_committed(
    rep: Report,
    zkey: Path,
    ck: Path | None,
    transcript: Path,
    ptau: Path | None,
    r1cs: Callable[[], R1CS],
    vk: VerifyingKey | CommittedVerifyingKey,
    governance: str | None,
    dev_ok: bool,
    trusted_phase1: Collection[str],
) -> None:
    """The committed-key gate: the same conditions as a plain key's, checked on the committed ceremony."""
    if ck is None or not ck.is_file():
        rep.add("setup: commitment key (commitment_key.json) present", False, str(ck))
        return
    try:
        tr = read_transcript(transcript)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        rep.add("setup: committed-key ceremony transcript readable", False, f"{transcript}: {e}")
        return
    last = tr.records[-1].state.g2_eta if tr.records else None
    same = False
    if isinstance(vk, CommittedVerifyingKey) and vk.g2_eta == last:
        k = read_zkey_for_audit(zkey)
        b = vk.base
        same = (b.alpha1, b.beta2, b.gamma2, b.delta2) == (k.alpha1, k.beta2, k.gamma2, k.delta2)
        same = same and list(b.ic) == _key_ic(zkey, k.n_public)
    detail = "" if same else "the committed verifying key (with [eta]_2) is not the transcript's final key"
    rep.add("setup: the bundle's verifying key is the ceremony key's", same, detail)
    public_p1 = ptau is not None and ptau.is_file() and blake2b_file(ptau) in trusted_phase1
    _gate(rep, dev_ok, "setup: phase 1 is a public powers-of-tau file (not the operator's own)", public_p1,
          "a phase 1 run by the operator alone lets it forge proofs (tau, alpha, beta known)")  # fmt: skip
    if ptau is not None and ptau.is_file():
        cvk = vk if isinstance(vk, CommittedVerifyingKey) else None
        cer = verify_committed_ceremony(tr, zkey, ck, r1cs(), ptau, cvk)
        rep.add(
            "setup: committed-key ceremony re-checked (delta, eta, k contributions against phase 1 and the circuit)",
            cer.ok,
            f"{len(tr.records)} contributions"
            if cer.ok
            else (cer.malformed or ", ".join(c.name for c in cer.failed()[:4])),
        )
    signers = [s.lower() for s in contribution_signers([r.delta for r in tr.records]) if s]
    if governance is None:
        rep.warn("setup: contribution signed by governance", f"not checked without a registry (signers: {signers})")
        return
    _gate(rep, dev_ok, "setup: a phase-2 contribution is signed by governance (not only the operator)",
          governance.lower() in signers, f"signers: {signers or 'none'}")  # fmt: skip


def _gate(rep: Report, dev_ok: bool, name: str, ok: bool, detail: str) -> None:
    """A failed setup condition is a failure, or a loud warning on a development-mode registry."""
    if ok:
        rep.add(name, True)
    elif dev_ok:
        rep.warn(name, f"NOT MET, accepted only because the registry is in development mode: {detail}")
    else:
        rep.add(name, False, detail)
