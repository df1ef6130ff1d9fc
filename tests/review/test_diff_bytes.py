"""``snavc diff`` reads builds as bytes; these tests hold it to what parsing would give.

A build is compared line by line as bytes (snavc/diff.py): the bytes two builds have in
common are skipped a block at a time, an object is found by a binary search on its ID
and parsed only when its line differs, text searches run over whole sections. Each test
compares such a fast path with the careful way round: the same builds reformatted
(read whole and parsed), lines whose bytes differ but whose JSON does not, and random
sections against a plain comparison of every line.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snavc.review.diff import Build, changed_keys, diff, read_build

from .helpers import CLIENT1_OVERRIDE, ROOT, SITE1_EQ, SITE2_EQ, append, edit, equipment_yaml

diffmod = importlib.import_module(
    "snavc.review.diff"
)  # the module (snavc.review.diff is the function)


def reformatted(build: Path, folder: Path) -> Path:
    """``build`` with effective.json and origins.json pretty-printed: read whole."""
    folder.mkdir()
    for name in ("effective.json", "origins.json"):
        data = json.loads((build / name).read_text(encoding="utf-8"))
        (folder / name).write_text(json.dumps(data, indent=1), encoding="utf-8")
    return folder


def report(old: Path, new: Path) -> dict:
    out = diff(read_build(old), read_build(new)).to_json()
    del out["base"], out["head"]  # the folders' names
    return out


@pytest.fixture
def review(tmp_path, built):
    """The two builds of docs/review.md's worked example (samples/review), from copies."""
    base = shutil.copytree(ROOT / "samples/review/base", tmp_path / "base")
    change = shutil.copytree(ROOT / "samples/review/change", tmp_path / "change")
    return built(base), built(change)


@pytest.mark.parametrize("backwards", [False, True], ids=["base-change", "change-base"])
def test_reading_builds_whole_gives_the_same_report(review, tmp_path, backwards):
    """Every field of the report, impact and lock included, whichever way it is read."""
    old, new = review[::-1] if backwards else review
    expected = report(old, new)
    assert expected["changes"] and expected["inputs"]  # the premise: there is something
    whole_old = reformatted(old, tmp_path / "whole-old")
    whole_new = reformatted(new, tmp_path / "whole-new")
    assert report(whole_old, whole_new) == expected
    assert report(old, whole_new) == expected
    assert report(whole_old, new) == expected


def odd_copy(build: Path, folder: Path) -> Path:
    """``build`` with every object line written differently, to the same JSON: keys in
    reverse order, spaces, non-ASCII escaped, the first letter of a hash escaped."""

    def reverse(value):
        if isinstance(value, dict):
            return {k: reverse(value[k]) for k in reversed(list(value))}
        return [reverse(v) for v in value] if isinstance(value, list) else value

    folder.mkdir()
    shutil.copy(build / "origins.json", folder / "origins.json")
    lines = (build / "effective.json").read_text(encoding="utf-8").split("\n")
    odd = 0
    for i, line in enumerate(lines):
        match = re.fullmatch(r'("[^"]+"):(.*?)(,?)', line)
        if not match or match[2] in ("{", ""):
            continue
        value = json.loads(match[2])
        if isinstance(value, str) and value:  # an input's hash
            text = f'"\\u{ord(value[0]):04x}{value[1:]}"'
        else:
            text = json.dumps(reverse(value), separators=(", ", ": "))
        if text != match[2]:
            odd += 1
        lines[i] = f"{match[1]}:{text}{match[3]}"
    assert odd > 40  # nodes, equipment, user services, inputs, lock
    (folder / "effective.json").write_text("\n".join(lines), encoding="utf-8")
    return folder


def test_lines_that_differ_but_not_their_json_are_no_change(seed, built, tmp_path):
    repo = seed()
    old = built(repo)
    edit(repo, SITE2_EQ, "10.1.2.10", "10.1.2.11")
    append(repo, SITE1_EQ, equipment_yaml("srv-new-09", "client1-site1", "box-client1-site1"))
    new = built(repo)
    odd = odd_copy(new, tmp_path / "odd")
    nothing = report(new, odd)
    assert (nothing["changes"], nothing["inputs"], nothing["errors"]) == ([], [], [])
    assert report(odd, new)["changes"] == []
    assert report(old, odd)["changes"] == report(old, new)["changes"]


MEMORY_OVERRIDE = """\
    kind: ServiceTemplateOverride
    template: memory
    at: client1
    criticality: 1
    """


def test_lock_counts_of_the_users_search_match_a_search_of_every_locked_service(seed, built):
    """`not_applied` is counted among the users of an input, in the one search of the
    build that finds them: the same as counting every unit service with locked values,
    by origin, even beside locked services of another template on the same equipment."""
    repo = seed()
    old = built(repo)
    edit(repo, CLIENT1_OVERRIDE, "criticality: 4", "criticality: 2")
    append(repo, CLIENT1_OVERRIDE, MEMORY_OVERRIDE)
    new = read_build(built(repo))
    keys = ["service-template-override/cpu@client1", "service-template-override/memory@client1"]
    _, locked = diffmod._dependents(new, keys)
    by_origin = new.locked_by_origin()
    for key, count in zip(keys, (2, 3), strict=True):
        origins = diffmod._origin_keys(new, [key])[key]
        assert locked[key] == sum(by_origin.get(o, 0) for o in origins) == count
        entry = next(i for i in report(old, new.name)["inputs"] if i["input"] == key)
        assert entry["lock"]["not_applied"] == count


# -- random sections: the merge, the binary search and the text search ----------------------

IDS = st.text(alphabet='ab.-é"\\', min_size=1, max_size=4)  # prefixes of one another, escapes
OBJECTS = st.fixed_dictionaries(
    {"n": st.integers(0, 3), "pad": st.sampled_from(["", "x" * 1100])}  # long lines too
)
SECTIONS = st.dictionaries(IDS, OBJECTS, max_size=12)


@st.composite
def two_versions(draw) -> tuple[dict, dict]:
    """A section and another version of it: most objects kept, some changed, removed or
    added (so that most lines are equal, as in two builds)."""
    a = draw(SECTIONS)
    b = {k: draw(OBJECTS) if draw(st.integers(0, 4)) == 0 else v for k, v in a.items()}
    for k in draw(st.lists(st.sampled_from(sorted(a)), max_size=3)) if a else ():
        b.pop(k, None)
    return a, {**b, **draw(st.dictionaries(IDS, OBJECTS, max_size=3))}


def compact(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def as_build(objects: dict, last: bool) -> Build:
    """A build with one section ``s`` laid out as snavc writes it (``last``: no other
    top-level key follows it, so its last line is "}")."""
    lines = ",\n".join(f"{compact(k)}:{compact(v)}" for k, v in sorted(objects.items()))
    section = f'"s":{{\n{lines}\n}}' if objects else '"s":{}'
    return Build("{\n" + (section if last else f'{section},\n"t":1') + "\n}\n")


@settings(max_examples=300, deadline=None)
@given(two_versions(), st.sampled_from([1, 3, 64, 1 << 14]), st.booleans())
def test_changed_keys_and_lookups_match_a_line_by_line_comparison(versions, block, last):
    a, b = versions
    old, new = as_build(a, last), as_build(b, not last)
    expected = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    saved, diffmod.BLOCK = diffmod.BLOCK, block
    try:
        assert changed_keys(old, new, "s") == expected
    finally:
        diffmod.BLOCK = saved
    for key in {*a, *b}:  # what the merge remembered of each build
        assert (old.get("s", key), new.get("s", key)) == (a.get(key), b.get(key))
    for objects, last_one in ((a, last), (b, not last)):
        fresh = as_build(objects, last_one)  # no line remembered from the merge
        for key in {*a, *b, "", "a", "é", "~"}:
            assert fresh.get("s", key) == objects.get(key)
        assert fresh.small == ({} if objects else {"s": {}}) | ({} if last_one else {"t": 1})
        pattern = re.compile(rb'"n":1')
        lines = [f"{compact(k)}:{compact(v)}" for k, v in sorted(objects.items())]
        assert [line.decode().rstrip(",") for line in fresh.grep("s", pattern)] == [
            line for line in lines if '"n":1' in line
        ]
