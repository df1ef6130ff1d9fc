"""Golden builds (STYLE habit 9), determinism (habit 7) and atomic builds.

Golden cases live in ``fixtures/<case>/``: the input ``repo/`` (or the folder named in
``SOURCE``), a README.md saying what each expected value shows and why, and
``expected/`` with the exact bytes ``snavc build`` writes. Regenerate with
``.venv/bin/python tests/rules/regen_goldens.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from . import regen_goldens as goldens

SAMPLE_SEED = goldens.ROOT / "samples" / "seed"
CASES = goldens.cases()


@pytest.fixture
def SEED(tmp_path):
    """A copy of samples/seed, its snav.lock (T5) included: ``build`` rewrites the lock."""
    copy = tmp_path / "seed-copy"
    shutil.copytree(SAMPLE_SEED, copy)
    return copy


def test_every_case_has_expected_outputs():
    assert "seed" in CASES
    for case in CASES:
        for name in goldens.OUTPUTS:
            assert (goldens.FIXTURES / case / "expected" / name).is_file(), (case, name)
        assert (goldens.FIXTURES / case / "README.md").is_file(), case


@pytest.mark.parametrize("case", CASES)
def test_golden_build(case, tmp_path):
    out = tmp_path / "out"
    code, output = goldens.build(case, out)
    assert code == 0, output
    for name in goldens.OUTPUTS:
        expected = (goldens.FIXTURES / case / "expected" / name).read_bytes()
        got = (out / name).read_bytes()
        assert got == expected, (
            f"{case}/{name} differs from the golden; if the change is intended, run "
            f"`.venv/bin/python tests/rules/regen_goldens.py {case}` and review the diff"
        )


# -- determinism ------------------------------------------------------------------------


def build_bytes(cli, repo: Path, out: Path) -> bytes:
    """effective.json of a build of ``repo``. ``build`` rewrites snav.lock (T5), an input
    of the next build: it is put back as it was, so that every build sees one input."""
    lock = repo / "snav.lock"
    before = lock.read_bytes() if lock.exists() else None
    cli("build", repo, "-o", out)
    if before is None:
        lock.unlink(missing_ok=True)
    else:
        lock.write_bytes(before)
    return (out / "effective.json").read_bytes()


def seed_documents(SEED: Path) -> list[tuple[str, str]]:
    """``(file, document text)`` of every document of the seed but the Project, in
    discovery order."""
    docs = []
    for path in sorted(SEED.rglob("*.yaml")):
        rel = path.relative_to(SEED).as_posix()
        if rel in ("snav.yaml", "snav.lock"):
            continue
        text = path.read_text(encoding="utf-8")
        for part in text.split("\n---\n"):
            if part.strip():
                docs.append((rel, part.strip("\n") + "\n"))
    return docs


def write_layout(SEED: Path, root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    shutil.copyfile(SEED / "snav.yaml", root / "snav.yaml")
    if (SEED / "snav.lock").exists():
        shutil.copyfile(SEED / "snav.lock", root / "snav.lock")
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def layouts(SEED: Path, tmp_path: Path) -> dict[str, Path]:
    """The seed laid out three other ways, every document kept as it is."""
    docs = seed_documents(SEED)
    merged = "---\n".join(text for _, text in docs)
    merged_root = tmp_path / "merged"
    merged_root.mkdir()
    (merged_root / "snav.yaml").write_text(
        (SEED / "snav.yaml").read_text(encoding="utf-8") + "---\n" + merged, encoding="utf-8"
    )
    if (SEED / "snav.lock").exists():
        shutil.copyfile(SEED / "snav.lock", merged_root / "snav.lock")
    split = {f"doc-{i:03d}.yaml": text for i, (_, text) in enumerate(docs)}
    # renamed and reordered: files named so that they sort the other way round, in
    # other folders, with the documents of each file in reverse order
    by_file: dict[str, list[str]] = {}
    for rel, text in docs:
        by_file.setdefault(rel, []).append(text)
    renamed = {}
    for i, (rel, texts) in enumerate(sorted(by_file.items())):
        name = f"z{len(by_file) - i:02d}/{rel.replace('/', '_')}"
        renamed[name] = "---\n".join(reversed(texts))
    return {
        "merged": merged_root,
        "split": write_layout(SEED, tmp_path / "split", split),
        "renamed": write_layout(SEED, tmp_path / "renamed", renamed),
    }


def without_positions(value):
    """The effective configuration without source positions (file, line): what must not
    depend on the layout of the repository."""
    if isinstance(value, dict):
        return {k: without_positions(v) for k, v in value.items() if k not in ("file", "line")}
    if isinstance(value, list):
        if len(value) == 3 and isinstance(value[1], str) and value[1].endswith((".yaml", ".yml")):
            return [value[0]]  # an origin: [node, file, line]
        return [without_positions(v) for v in value]
    return value


def test_determinism_same_input_same_bytes(cli, SEED, tmp_path):
    first = build_bytes(cli, SEED, tmp_path / "a")
    second = build_bytes(cli, SEED, tmp_path / "b")
    assert first == second
    assert first == (goldens.FIXTURES / "seed" / "expected" / "effective.json").read_bytes()


def test_determinism_copy_elsewhere_created_in_another_order(cli, SEED, tmp_path):
    """Same files, another absolute path, created in reverse order (another directory
    listing order on most filesystems): same bytes, no absolute path leaks."""
    copy = tmp_path / "somewhere" / "else"
    files = sorted(p for p in SEED.rglob("*") if p.is_file())
    for p in reversed(files):
        target = copy / p.relative_to(SEED)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, target)
    got = build_bytes(cli, copy, tmp_path / "out")
    assert got == build_bytes(cli, SEED, tmp_path / "ref")
    assert str(tmp_path).encode() not in got and str(SEED).encode() not in got


@pytest.mark.parametrize("layout", ["merged", "split", "renamed"])
def test_determinism_layout_does_not_change_the_configuration(cli, SEED, tmp_path, layout):
    """Merged into one file, one document per file, files renamed and reordered: the
    same effective configuration, source positions aside."""
    reference = json.loads(build_bytes(cli, SEED, tmp_path / "ref"))
    repo = layouts(SEED, tmp_path)[layout]
    got = json.loads(build_bytes(cli, repo, tmp_path / "out"))
    assert without_positions(got) == without_positions(reference)


@pytest.mark.parametrize("layout", ["merged", "split", "renamed"])
def test_determinism_layout_byte_identical(cli, SEED, tmp_path, layout):
    reference = build_bytes(cli, SEED, tmp_path / "ref")
    assert build_bytes(cli, layouts(SEED, tmp_path)[layout], tmp_path / "out") == reference


# -- atomic builds -------------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def broken_seed(SEED: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "broken"
    shutil.copytree(SEED, copy)
    eq = copy / "clients" / "client1" / "site2" / "equipment.yaml"
    eq.write_text(
        eq.read_text(encoding="utf-8").replace("box: box-client1-site2", "box: box-partner-lab"),
        encoding="utf-8",
    )
    return copy


def test_build_failing_leaves_existing_output_untouched(cli, SEED, tmp_path):
    out = tmp_path / "out"
    cli("build", SEED, "-o", out)
    before = snapshot(out)
    assert ".snavc-build" in before and "effective.json" in before
    result = cli("build", broken_seed(SEED, tmp_path), "-o", out, exit_code=1)
    assert "error[SNV4" in result.output
    assert snapshot(out) == before
    assert sorted(os.listdir(tmp_path)) == [
        "broken",
        "out",
        "seed-copy",
    ]  # no temporary folder left behind


def test_build_failing_creates_no_output(cli, SEED, tmp_path):
    out = tmp_path / "out"
    cli("build", broken_seed(SEED, tmp_path), "-o", out, exit_code=1)
    assert not out.exists()


def test_build_refuses_a_non_empty_folder_that_is_not_a_build(cli, SEED, tmp_path):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me\n", encoding="utf-8")
    result = cli("build", SEED, "-o", out, exit_code=2)
    assert "not a snavc build" in result.output
    assert snapshot(out) == {"notes.txt": b"keep me\n"}


def test_build_replaces_a_previous_build_whole(cli, SEED, tmp_path):
    out = tmp_path / "out"
    cli("build", SEED, "-o", out)
    (out / "stale.txt").write_text("from an older build\n", encoding="utf-8")
    cli("build", SEED, "-o", out)
    assert sorted(snapshot(out)) == [
        ".snavc-build",
        "diagnostics.json",
        "effective.json",
        "lock-report.json",
        "origins.json",
    ]


def test_build_into_an_empty_folder(cli, SEED, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    cli("build", SEED, "-o", out)
    assert (out / "effective.json").is_file()


def test_determinism_both_yaml_parsers_give_the_same_bytes(cli, SEED, tmp_path):
    lock = SEED / "snav.lock"
    before = lock.read_bytes() if lock.exists() else None
    cli("build", SEED, "-o", tmp_path / "fast", "--loader", "fast")
    if before is not None:
        lock.write_bytes(before)
    cli("build", SEED, "-o", tmp_path / "ruamel", "--loader", "ruamel")
    assert (tmp_path / "fast" / "effective.json").read_bytes() == (
        tmp_path / "ruamel" / "effective.json"
    ).read_bytes()
