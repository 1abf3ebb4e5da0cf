"""Build hook for the optional C kernels (circuits/_native: bn254.c, which #includes pairing.c and setup.c;
engine.c;
witness.c); metadata lives in pyproject.toml.

The extension is optional: if no C compiler is available the install still succeeds, prints a warning
(pip shows build output with ``pip install -v``), and zkmargin uses its pure-Python MSM/NTT/pairing
(circuits/msm.py, circuits/ntt.py, py_ecc), which the tests compare the kernel against.
``zkmargin doctor`` reports which one is active. ``ZKMARGIN_NO_NATIVE=1`` skips the build on purpose.
"""

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

WARNING = """
************************************************************************************
WARNING: zkmargin's optional C kernel ({name}) was not built: {why}
zkmargin still works, with the pure-Python reference arithmetic (about 10-20x slower
proving). Install a C compiler (e.g. `apt-get install build-essential`) and reinstall
to get it; `zkmargin doctor` shows which one is active.
************************************************************************************
"""


class OptionalBuildExt(build_ext):
    """Build the kernel when possible; otherwise warn loudly and carry on (never fail the install)."""

    def run(self) -> None:
        if os.environ.get("ZKMARGIN_NO_NATIVE"):
            sys.stderr.write(WARNING.format(name="zkmargin.circuits._bn254", why="ZKMARGIN_NO_NATIVE is set"))
            return
        try:
            super().run()
        except Exception as e:  # no compiler at all: distutils raises before any extension is tried
            sys.stderr.write(WARNING.format(name="zkmargin.circuits._bn254", why=f"{type(e).__name__}: {e}"))

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as e:  # compiler present but the build failed
            sys.stderr.write(WARNING.format(name=ext.name, why=f"{type(e).__name__}: {e}"))


setup(
    cmdclass={"build_ext": OptionalBuildExt},
    ext_modules=[
        Extension(
            "zkmargin.circuits._bn254",
            sources=["circuits/_native/bn254.c"],
            depends=["circuits/_native/pairing.c", "circuits/_native/setup.c"],  # #included by bn254.c
            extra_compile_args=["-O3", "-std=c11", "-pthread"],
            extra_link_args=["-pthread"],
            optional=True,
        ),
        Extension(  # exact margin revaluation (prover/engine/kernel.py; numpy fallback in prover/engine/flat.py)
            "zkmargin.circuits._engine",
            sources=["circuits/_native/engine.c"],
            extra_compile_args=["-O3", "-std=c11", "-ffp-contract=off"],
            optional=True,
        ),
        Extension(  # the witness program's loop (circuits/witness_native.py; the Python loop in circuits/r1cs.py)
            "zkmargin.circuits._witness",
            sources=["circuits/_native/witness.c"],
            extra_compile_args=["-O3", "-std=c11", "-pthread"],
            extra_link_args=["-pthread"],
            optional=True,
        ),
    ],
)
