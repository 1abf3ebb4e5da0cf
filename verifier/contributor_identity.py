"""Who made a phase-2 contribution: an Ethereum signature over its contribution hash, kept in the
record's name, and :func:`contribution_signers` to recover the signers.

A ceremony is only as good as its honest participant, and a record alone does not say who made
it: the operator could run every "participant" itself. A contribution signed by an account the
operator does not hold (e.g. the registry's governance address) proves that account's holder
approved exactly that contribution: the signed message contains the contribution hash, which
fixes its secret's public key and, through the transcript, the circuit and every earlier record.

Where the signature lives: snarkjs's section 10 has no free-form field other than the name, and
snarkjs rewrites names as ``name.substring(0, 64)`` whenever it writes a key (every later
``zkey contribute``/``beacon`` does). A hex ``|signer=0x..|sig=0x..`` suffix (177 characters) would
be cut off by the next snarkjs contributor, so the 20-byte claimed address and the 65-byte
signature are packed into 46 characters of 15 bits each (code points U+4000..U+BFFF: valid,
non-surrogate, 3 UTF-8 bytes each) after the marker ``|sig:``. The human label keeps the other
13 characters. The whole name stays under snarkjs's 64-character and 255-byte limits, so it
survives any number of snarkjs rewrites and ``snarkjs zkey verify`` accepts it.

The signed text (EIP-191 ``personal_sign``, what hardware wallets and multisig signers display)::

    zkmargin trusted-setup contribution
    <128 hex digits of the contribution hash>
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from zkmargin.circuits.formats.binfile import read_binfile

from .zkey_mpc import MAX_NAME_CHARS, Contribution, MpcParams, decode_mpc_section

SIG_MARKER = "|sig:"
_BASE = 0x4000
_BITS = 15
_PAYLOAD = 20 + 65  # claimed address, signature (r, s, v)
_CHARS = -(-_PAYLOAD * 8 // _BITS)  # 46
MAX_SIGNED_LABEL = MAX_NAME_CHARS - len(SIG_MARKER) - _CHARS  # 13


def signing_message(contribution_hash: bytes) -> str:
    """The text a contributor's Ethereum key signs (see the module docstring)."""
    if len(contribution_hash) != 64:
        raise ValueError("a contribution hash is 64 bytes")
    return "zkmargin trusted-setup contribution\n" + contribution_hash.hex()


def encode_signed_name(label: str, address: str, signature: bytes) -> str:
    """``label|sig:<46 chars>`` carrying the claimed signer address and the 65-byte signature."""
    if SIG_MARKER in label:
        raise ValueError(f"name must not contain {SIG_MARKER!r}")
    if len(label) > MAX_SIGNED_LABEL:
        raise ValueError(
            f"name {label!r} is {len(label)} characters: at most {MAX_SIGNED_LABEL} with a signature "
            f"(snarkjs keeps {MAX_NAME_CHARS} characters of a name)"
        )
    addr = bytes.fromhex(address.removeprefix("0x"))
    if len(addr) != 20 or len(signature) != 65:
        raise ValueError("need a 20-byte address and a 65-byte signature")
    v = int.from_bytes(addr + bytes(signature), "big")
    digits = []
    for _ in range(_CHARS):
        digits.append(chr(_BASE + (v & ((1 << _BITS) - 1))))
        v >>= _BITS
    return label + SIG_MARKER + "".join(reversed(digits))


def split_signed_name(name: str | None) -> tuple[str, str, bytes] | None:
    """(label, claimed address 0x.., signature) from a signed name; None if it carries no signature."""
    if not name or SIG_MARKER not in name:
        return None
    label, _, tail = name.rpartition(SIG_MARKER)
    if len(tail) != _CHARS or any(not _BASE <= ord(ch) < _BASE + (1 << _BITS) for ch in tail):
        return None
    v = 0
    for ch in tail:
        v = (v << _BITS) | (ord(ch) - _BASE)
    if v >> (_PAYLOAD * 8):
        return None
    raw = v.to_bytes(_PAYLOAD, "big")
    return label, "0x" + raw[:20].hex(), raw[20:]


def recover_signer(contribution_hash: bytes, signature: bytes) -> str | None:
    """The (checksummed) address whose key signed :func:`signing_message` of the hash, or None."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    try:
        message = encode_defunct(text=signing_message(contribution_hash))
        return str(Account.recover_message(message, signature=signature))
    except Exception:  # malformed or invalid (r, s, v): eth_account raises several exception types
        return None


def contribution_signer(c: Contribution) -> str | None:
    """The signer of one record: its claimed address if the signature over *this* record's hash
    recovers exactly that address; None if unsigned or if the signature belongs to anything else
    (another contribution, another message, a copied or altered signature)."""
    parts = split_signed_name(c.name)
    if parts is None:
        return None
    _, claimed, sig = parts
    got = recover_signer(c.contribution_hash(), sig)
    return got if got is not None and got.lower() == claimed.lower() else None


def contribution_signers(zkey: str | os.PathLike[str] | MpcParams | Sequence[Contribution]) -> list[str | None]:
    """Per contribution of the key (file, section 10, or records), in order: the recovered signer
    address of a properly signed one, else None. The caller decides whose signature it requires
    (the product's audit: at least one by the registry's governance address)."""
    if isinstance(zkey, MpcParams):
        records: Sequence[Contribution] = zkey.contributions
    elif isinstance(zkey, (str, os.PathLike)):
        records = decode_mpc_section(read_binfile(zkey, b"zkey", 1).section(10, "contributions")).contributions
    else:
        records = zkey
    return [contribution_signer(c) for c in records]


__all__ = [
    "MAX_SIGNED_LABEL",
    "SIG_MARKER",
    "contribution_signer",
    "contribution_signers",
    "encode_signed_name",
    "recover_signer",
    "signing_message",
    "split_signed_name",
]
