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

from .diagnostics import Diagnostic
from .engine.pipeline import Result, check, compile_repo
from .review.diff import diff, read_build
from .version import __version__  # noqa: E402

__all__ = ["Diagnostic", "Result", "check", "compile_repo", "diff", "read_build", "__version__"]
