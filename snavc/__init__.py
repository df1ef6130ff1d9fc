"""snavc: the configuration compiler for ServiceNav monitoring estates.

The pipeline, one stage per module::

    load      YAML files -> documents with positions          (snavc.engine.load)
    validate  documents -> typed models, diagnostics          (snavc.validate)
    tree      models -> organisation tree, indexes, links     (snavc.tree)
    resolve   the rules: scope, periods, boxes, templates...  (snavc.resolve)
    emit      effective configuration, origins, the lock      (snavc.engine.emit)
    diff      two builds -> changes, impact, report           (snavc.review.diff, snavc.review.plan)
    cli       thin click commands                             (snavc.cli)

>>> import snavc
>>> result, resolution = snavc.compile_repo("samples/seed")   # doctest: +SKIP
>>> result.ok, len(resolution.equipment)                       # doctest: +SKIP
(True, 5)
"""

from .version import __version__

# The front door is lazy (PEP 562): ``import snavc`` (which every ``snavc`` command
# does first) must not import the pipeline, pydantic and the models before a command
# needs them: ``snavc --help`` would wait for them (docs/performance.md, "Start-up").
_PUBLIC = {
    "Diagnostic": "snavc.diagnostics",
    "Result": "snavc.engine.pipeline",
    "check": "snavc.engine.pipeline",
    "compile_repo": "snavc.engine.pipeline",
    "diff": "snavc.review.diff",
    "read_build": "snavc.review.diff",
}

__all__ = ["Diagnostic", "Result", "check", "compile_repo", "diff", "read_build", "__version__"]


def __getattr__(name: str):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'snavc' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: the next look-up is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
