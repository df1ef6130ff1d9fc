"""snavc: the configuration compiler for ServiceNav monitoring estates.

The pipeline, one stage per module::

    load      YAML files -> documents with positions          (snavc.load)
    validate  documents -> typed models, diagnostics          (snavc.validate)
    tree      models -> organisation tree, indexes, links     (snavc.tree)

>>> import snavc
>>> result = snavc.check("samples/seed")   # doctest: +SKIP
>>> result.ok                              # doctest: +SKIP
True
"""

from .diagnostics import Diagnostic
from .pipeline import Result, check

__version__ = "0.1.0"
__all__ = ["Diagnostic", "Result", "check", "__version__"]
