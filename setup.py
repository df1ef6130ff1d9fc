"""What pyproject.toml cannot say: snavc's two optional C extensions.

- ``snavc/engine/_scan.c``: the load stage's line scanner (snavc/engine/scan.py) in C;
- ``snavc/_heap.c``: Python's object arenas on transparent huge pages.

Both are optional: where no C compiler (or no Python headers) is found, the install
goes on, the Python scanner reads the same documents and the heap stays as Python
makes it (docs/performance.md, "The line scanner in C" and "Huge pages for the heap").
"""

from setuptools import Extension, setup


def _optional(module: str) -> Extension:
    source = module.replace(".", "/") + ".c"
    return Extension(module, [source], optional=True, extra_compile_args=["-O2"])


setup(ext_modules=[_optional("snavc.engine._scan"), _optional("snavc._heap")])
