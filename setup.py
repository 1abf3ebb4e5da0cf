"""Build hook for the optional C kernel (circuits/_native/bn254.c); all metadata lives in pyproject.toml.

The extension is optional: if no C compiler is available the install still succeeds and zkmargin
uses its pure-Python MSM (circuits/msm.py), which the tests compare the kernel against.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "zkmargin.circuits._bn254",
            sources=["circuits/_native/bn254.c"],
            depends=["circuits/_native/pairing.c"],  # #included by bn254.c
            extra_compile_args=["-O3", "-std=c11", "-pthread"],
            extra_link_args=["-pthread"],
            optional=True,
        )
    ]
)
