"""What pyproject.toml cannot say: snavc's optional C extension.

``snavc/engine/_scan.c`` is the load stage's line scanner (snavc/engine/scan.py) in C. It
is optional: where no C compiler (or no Python headers) is found, the install goes on
and the Python scanner reads the same documents (docs/performance.md, "The line scanner
in C").
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "snavc.engine._scan",
            ["snavc/engine/_scan.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
