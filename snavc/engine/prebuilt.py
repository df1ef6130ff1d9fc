"""The models' validators, built once per version of the models and kept in the user's
cache folder, so that a run does not build them again.

pydantic builds a model's validator from its annotations on first use (``defer_build``):
about 0.035 s for the models a warm build uses, 0.06 s for all of them, on every run; a
warm build at 100k equipment takes 1 s. Their core schemas, validators and serializers
are pickled once (pydantic-core pickles them from their schemas, 34 kB) and read back in
1 ms. The file is named by a hash of what decides them: ``snavc/model.py`` (which
imports no other snavc module, a test checks it), the Python and the pydantic versions.
The file is sealed as the engine's caches are (hashing.write_sealed). Anything
unexpected (no file, a damaged one, another pydantic that pickles otherwise)
leaves the models to pydantic's own lazy build, as without this cache.

It lives in the user's cache folder (``$XDG_CACHE_HOME/snavc``, else
``~/.cache/snavc``), never in a repository: a pickle runs code when read, so it is
read only from where the user's own runs wrote it. ``SNAVC_MODEL_CACHE`` names
another folder, or ``off`` turns the cache off (docs/performance.md).
"""

from __future__ import annotations

import os
import pickle
import sys
import time
from pathlib import Path

from . import hashing
from .hashing import unseal, write_sealed

KEEP_SECONDS = 7 * 86400  # other versions' files older than this are removed


def folder() -> Path | None:
    """Where the models' file is kept; None when the cache is off, or when there is no
    user's cache folder: ``XDG_CACHE_HOME`` is used only when absolute (the XDG spec
    ignores a relative one), and a home folder that cannot be found (no ``HOME``, no
    password entry) is no reason to write in the current folder."""
    chosen = os.environ.get("SNAVC_MODEL_CACHE")
    if chosen == "off":
        return None
    if chosen:
        return Path(chosen)
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg) / "snavc"
    # a home that does not exist (HOME=/nonexistent, a system user's) is none: no
    # folder is made at the top of the file system for it
    home = os.path.expanduser("~")
    return Path(home) / ".cache" / "snavc" if os.path.isabs(home) and os.path.isdir(home) else None


def key(source: Path) -> str:
    """The hash of what decides the models' validators."""
    import pydantic
    import pydantic_core

    h = hashing.hasher()
    h.update(source.read_bytes())
    h.update(f"\0{sys.version}\0{pydantic.VERSION}\0{pydantic_core.__version__}".encode())
    return h.hexdigest()


def complete(models: list[type], source: Path) -> bool:
    """Complete ``models`` (pydantic models of the module at ``source``, built lazily)
    from the cache, or build them and write the cache. True when they came from it."""
    try:
        where = folder()
        if where is None:
            return False
        path = where / f"models-{key(source)}.pickle"
    except (OSError, RuntimeError):  # (no home folder)
        return False
    if _read(path, models):
        return True
    _write(path, models)
    return False


def _read(path: Path, models: list[type]) -> bool:
    try:
        body = unseal(path.read_bytes())
    except OSError:
        return False
    if body is None:  # (damaged)
        return False
    try:
        built = pickle.loads(body)
        if not isinstance(built, dict) or set(built) != {m.__qualname__ for m in models}:
            return False
    except Exception:  # (a pickle from another pydantic may fail in any way)
        return False
    for m in models:
        _install(m, *built[m.__qualname__])
    return True


def _install(cls: type, schema, validator, serializer) -> None:
    """What pydantic's ``complete_model_class`` sets on a model once its schema is
    built, for a model with neither computed nor deprecated fields (snavc's: the tests
    compare what the models do, completed either way)."""
    from functools import partial

    from pydantic._internal._signature import generate_pydantic_signature
    from pydantic._internal._utils import LazyClassAttribute

    cls.__pydantic_computed_fields__ = {}
    cls.__pydantic_core_schema__ = schema
    cls.__pydantic_validator__ = validator
    cls.__pydantic_serializer__ = serializer
    config = cls.model_config
    cls.__signature__ = LazyClassAttribute(
        "__signature__",
        partial(
            generate_pydantic_signature,
            init=cls.__init__,
            fields=cls.__pydantic_fields__,
            validate_by_alias=config.get("validate_by_alias", True),
            extra=config.get("extra"),
        ),
    )
    cls.__pydantic_complete__ = True


def _write(path: Path, models: list[type]) -> None:
    """Build every model now and keep what was built (a failure to write is no error:
    the next run builds them again). Nothing is built ahead where the folder cannot
    be made (a read-only home): each run then builds only the models it uses."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    built = {}
    for m in models:
        m.__pydantic_validator__.validate_python  # noqa: B018 (builds it: defer_build)
        built[m.__qualname__] = (
            m.__pydantic_core_schema__,
            m.__pydantic_validator__,
            m.__pydantic_serializer__,
        )
    try:
        body = pickle.dumps(built, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # (a pydantic that cannot pickle them)
        return
    try:
        write_sealed(path, body)  # (a full disk, a folder not ours: nothing left behind)
        _forget_others(path)
    except OSError:
        return


def _forget_others(path: Path) -> None:
    """Remove the files of other versions of the models written over a week ago (a
    version still in use is then built and written again by its next run)."""
    now = time.time()
    for other in path.parent.glob("models-*.pickle"):
        try:
            if other != path and now - other.stat().st_mtime > KEEP_SECONDS:
                other.unlink()
        except OSError:
            pass
