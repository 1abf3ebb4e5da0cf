"""snarkjs JSON formats (verification_key.json, proof.json, public.json), both directions.

Numbers are decimal strings; points are projective triples with z = 1 (or the point at infinity,
["0", "1", "0"]), exactly as snarkjs writes them. Anything else is a MalformedInput naming the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zkmargin.circuits.curve import G1Affine, G2Affine
from zkmargin.circuits.field import P, R

from .groth16 import MalformedInput
from .types import Proof, VerifyingKey


def _num(v: Any, name: str, modulus: int = P) -> int:
    if isinstance(v, bool):
        raise MalformedInput(name, "expected a decimal string")
    if isinstance(v, int):
        n = v
    elif isinstance(v, str) and v.isascii() and v.isdigit():
        n = int(v)
    else:
        raise MalformedInput(name, f"expected a decimal string, got {str(v)[:40]!r}")
    if n >= modulus:
        raise MalformedInput(name, "value is not below the field modulus")
    return n


def g1_from_json(v: Any, name: str) -> G1Affine:
    if not isinstance(v, list) or len(v) not in (2, 3):
        raise MalformedInput(name, "expected a G1 point [x, y, z]")
    x, y = _num(v[0], f"{name}[0]"), _num(v[1], f"{name}[1]")
    z = _num(v[2], f"{name}[2]") if len(v) == 3 else 1
    if z == 0:
        return None
    if z != 1:
        raise MalformedInput(f"{name}[2]", "projective z must be 1 (or 0 for infinity)")
    return (x, y)


def g2_from_json(v: Any, name: str) -> G2Affine:
    if not isinstance(v, list) or len(v) not in (2, 3) or not all(isinstance(c, list) and len(c) == 2 for c in v):
        raise MalformedInput(name, "expected a G2 point [[x0, x1], [y0, y1], [z0, z1]]")
    x = (_num(v[0][0], f"{name}[0][0]"), _num(v[0][1], f"{name}[0][1]"))
    y = (_num(v[1][0], f"{name}[1][0]"), _num(v[1][1], f"{name}[1][1]"))
    z = (_num(v[2][0], f"{name}[2][0]"), _num(v[2][1], f"{name}[2][1]")) if len(v) == 3 else (1, 0)
    if z == (0, 0):
        return None
    if z != (1, 0):
        raise MalformedInput(f"{name}[2]", "projective z must be [1, 0] (or [0, 0] for infinity)")
    return (x, y)


def g1_to_json(p: G1Affine) -> list[str]:
    if p is None:
        return ["0", "1", "0"]
    return [str(p[0]), str(p[1]), "1"]


def g2_to_json(p: G2Affine) -> list[list[str]]:
    if p is None:
        return [["0", "0"], ["1", "0"], ["0", "0"]]
    return [[str(p[0][0]), str(p[0][1])], [str(p[1][0]), str(p[1][1])], ["1", "0"]]


def _field(d: Any, key: str, where: str) -> Any:
    if not isinstance(d, dict):
        raise MalformedInput(where, "expected a JSON object")
    if key not in d:
        raise MalformedInput(f"{where}.{key}", "missing")
    return d[key]


def vk_from_json(d: Any) -> VerifyingKey:
    proto = _field(d, "protocol", "vk")
    if proto != "groth16":
        raise MalformedInput("vk.protocol", f"expected 'groth16', got {proto!r}")
    curve = d.get("curve", "bn128")
    if curve not in ("bn128", "bn254", "alt_bn128"):
        raise MalformedInput("vk.curve", f"unsupported curve {curve!r}")
    ic_raw = _field(d, "IC", "vk")
    if not isinstance(ic_raw, list) or not ic_raw:
        raise MalformedInput("vk.IC", "expected a non-empty list of G1 points")
    ic = tuple(g1_from_json(p, f"vk.IC[{i}]") for i, p in enumerate(ic_raw))
    if "nPublic" in d and d["nPublic"] != len(ic) - 1:
        raise MalformedInput("vk.nPublic", f"is {d['nPublic']} but IC has {len(ic)} points")
    return VerifyingKey(
        alpha1=g1_from_json(_field(d, "vk_alpha_1", "vk"), "vk.vk_alpha_1"),
        beta2=g2_from_json(_field(d, "vk_beta_2", "vk"), "vk.vk_beta_2"),
        gamma2=g2_from_json(_field(d, "vk_gamma_2", "vk"), "vk.vk_gamma_2"),
        delta2=g2_from_json(_field(d, "vk_delta_2", "vk"), "vk.vk_delta_2"),
        ic=ic,
    )


def vk_to_json(vk: VerifyingKey) -> dict[str, Any]:
    return {
        "protocol": "groth16",
        "curve": "bn128",
        "nPublic": vk.n_public,
        "vk_alpha_1": g1_to_json(vk.alpha1),
        "vk_beta_2": g2_to_json(vk.beta2),
        "vk_gamma_2": g2_to_json(vk.gamma2),
        "vk_delta_2": g2_to_json(vk.delta2),
        "IC": [g1_to_json(p) for p in vk.ic],
    }


def proof_from_json(d: Any) -> Proof:
    if "protocol" in d and d["protocol"] != "groth16":
        raise MalformedInput("proof.protocol", f"expected 'groth16', got {d['protocol']!r}")
    return Proof(
        a=g1_from_json(_field(d, "pi_a", "proof"), "proof.pi_a"),
        b=g2_from_json(_field(d, "pi_b", "proof"), "proof.pi_b"),
        c=g1_from_json(_field(d, "pi_c", "proof"), "proof.pi_c"),
    )


def proof_to_json(p: Proof) -> dict[str, Any]:
    return {
        "pi_a": g1_to_json(p.a),
        "pi_b": g2_to_json(p.b),
        "pi_c": g1_to_json(p.c),
        "protocol": "groth16",
        "curve": "bn128",
    }


def public_from_json(d: Any) -> list[int]:
    if not isinstance(d, list):
        raise MalformedInput("public", "expected a JSON list of decimal strings")
    # No reduction mod r: an aliased input (>= r) must be rejected, not silently accepted.
    out = []
    for i, v in enumerate(d):
        out.append(_num(v, f"public[{i}]", modulus=1 << 256))
    return out


def public_to_json(public: list[int]) -> list[str]:
    for i, x in enumerate(public):
        if not 0 <= x < R:
            raise MalformedInput(f"public[{i}]", "must be in [0, r)")
    return [str(x) for x in public]


def load_json(path: str | Path, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError as e:
        raise MalformedInput(what, f"file not found: {path}") from e
    except json.JSONDecodeError as e:
        raise MalformedInput(what, f"not valid JSON ({e.msg} at line {e.lineno})") from e
    except IsADirectoryError as e:
        raise MalformedInput(what, f"{path} is a directory, not a file") from e
    except UnicodeDecodeError as e:
        raise MalformedInput(what, f"{path} is not UTF-8 text") from e
    except RecursionError as e:
        raise MalformedInput(what, f"{path}: JSON nested too deeply") from e
    except OSError as e:
        raise MalformedInput(what, f"{path}: unreadable ({e.strerror or e})") from e
