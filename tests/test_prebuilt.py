"""The models' validators kept between runs (snavc/engine/prebuilt.py; docs/performance.md,
"Start-up"): written by the first run, read by the next ones, and the models they make
behave exactly as those pydantic builds itself. Each case runs fresh processes: a
process completes its models once, when it imports them."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Prints, for every model, its validation of the samples' documents and of broken copies
# of them (errors as pydantic reports them), what it dumps, its signature and JSON schema.
PROBE = r"""
import inspect, json, sys
import snavc.model as m
from snavc.engine.load import load_file
from pathlib import Path
print("from cache:", m.FROM_CACHE)
docs = []
for path in sorted(Path("samples").rglob("*.yaml")):
    found, _ = load_file(path, str(path), "libyaml")
    docs += [d.data for d in found if isinstance(d.data, dict)]
broken = []
for data in docs[:300]:
    for field, value in list(data.items())[1:]:
        broken.append({**data, field: [value, 1]})
        broken.append({**data, field + "_x": value})
    broken.append({**data, "ranges": {"monday": ["18:00-08:00", "08:00-18:00"]}})
for data in docs + broken:
    model = m.MODELS.get(data.get("kind"))
    if model is None:
        continue
    try:
        print(json.dumps(model.model_validate(data).model_dump(mode="json"), sort_keys=True))
    except Exception as e:
        print(type(e).__name__, json.dumps(e.errors(include_url=False), sort_keys=True, default=str))
for name, model in sorted(vars(m).items()):
    if isinstance(model, type) and issubclass(model, m.BaseModel) and model.__module__ == m.__name__:
        model.model_rebuild()  # (a nested model pydantic completes only when used alone)
        print(name, inspect.signature(model))
        print(json.dumps(model.model_json_schema(), sort_keys=True))
"""


def probe(cache: str) -> tuple[str, str]:
    """The probe's first line (from the cache or not) and the rest, in a fresh process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAVC_")}
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT), "SNAVC_MODEL_CACHE": cache},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    first, _, rest = out.partition("\n")
    return first, re.sub(r" at 0x[0-9a-f]+", "", rest)  # (functions in signatures)


def test_written_once_read_after_and_the_same_models(tmp_path):
    folder = tmp_path / "models"
    first, built = probe(str(folder))
    assert first == "from cache: False"
    (written,) = folder.glob("models-*.pickle")
    again, cached = probe(str(folder))
    assert again == "from cache: True"
    assert cached == built
    off_first, off = probe("off")
    assert off_first == "from cache: False"
    assert off == built
    assert list(folder.iterdir()) == [written]  # read, not written again
    assert "ValidationError" in built and '"type": "time_range"' in built


def test_a_damaged_file_is_built_again(tmp_path):
    folder = tmp_path / "models"
    _, built = probe(str(folder))
    (path,) = folder.glob("models-*.pickle")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    first, rest = probe(str(folder))
    assert first == "from cache: False"
    assert rest == built
    assert probe(str(folder))[0] == "from cache: True"  # written again, whole


def test_off_writes_nothing_and_a_folder_that_cannot_be_made_is_no_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    first, rest = probe(str(blocker / "models"))
    assert first == "from cache: False" and "Client" in rest


def test_nothing_is_built_ahead_where_the_folder_cannot_be_made(tmp_path):
    """A read-only home: each run builds only the models it uses, as without the cache."""
    from snavc.engine import prebuilt

    asked = []

    class Model:  # (what _write reads of a model to build it)
        __qualname__ = "Model"

        @property
        def __pydantic_validator__(self):
            asked.append(True)
            raise OSError("built ahead")

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    prebuilt._write(blocker / "models" / "models-x.pickle", [Model()])
    assert asked == []


def test_the_models_module_imports_no_other_snavc_module():
    """The cache is named by model.py's bytes alone (prebuilt.key): a module it imported
    could change the models without changing the name. (Functions may import one when
    they run: a validator's list of codes, the cache itself.)"""
    tree = ast.parse((ROOT / "snavc" / "model.py").read_text())
    imported = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
    inside = {name for name in imported if name.startswith(".") or name.startswith("snavc")}
    assert imported and not inside


def test_a_write_that_fails_leaves_nothing(tmp_path, monkeypatch):
    """A full disk or a folder that refuses the rename: no file is left behind (the next
    run builds the models again)."""
    import snavc.model as m
    from snavc.engine import prebuilt

    def refused(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(prebuilt.os, "replace", refused)
    models = [m.Client, m.Site]
    prebuilt._write(tmp_path / "models" / "models-x.pickle", models)
    assert list((tmp_path / "models").iterdir()) == []


def test_no_users_cache_folder_means_no_cache(monkeypatch, tmp_path):
    """A relative XDG_CACHE_HOME is ignored (as the XDG spec says), and without a home
    folder nothing is written in the current folder."""
    from snavc.engine import prebuilt

    monkeypatch.delenv("SNAVC_MODEL_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert prebuilt.folder() == tmp_path / "xdg" / "snavc"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert prebuilt.folder() is None  # (HOME=/nonexistent: a system user's)
    (tmp_path / "home").mkdir()
    assert prebuilt.folder() == tmp_path / "home" / ".cache" / "snavc"
    monkeypatch.delenv("HOME")
    monkeypatch.setattr(prebuilt.os.path, "expanduser", lambda path: path)  # (no entry)
    assert prebuilt.folder() is None
    monkeypatch.setenv("SNAVC_MODEL_CACHE", "off")
    assert prebuilt.folder() is None
