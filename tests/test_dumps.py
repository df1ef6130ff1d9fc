"""The outputs' JSON layout (emit.dumps, iter_pieces, LineWriter): the bytes of the
JSON module's sorted, compact text, one line per entry of each top-level object.

Entries whose key and value need no escape are written without a call per entry
(emit._entry_chunks); these tests hold that path and the general one to the same
bytes, with keys and values that do need escapes mixed in."""

from __future__ import annotations

import json
import random

import pytest

from snavc.engine.emit import (
    Lines,
    LineWriter,
    dumps,
    iter_lines,
    iter_pieces,
    output_blocks,
)


def reference(document: dict) -> bytes:
    """dumps() as its docstring says, from the json module, one section at a time."""

    def compact(value) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    lines = ["{"]
    sections = sorted(document)
    for i, key in enumerate(sections):
        value, tail = document[key], "," if i < len(sections) - 1 else ""
        if isinstance(value, dict) and value:
            lines.append(f"{compact(key)}:{{")
            names = sorted(value)
            lines += [
                f"{compact(k)}:{compact(value[k])}{',' if j < len(names) - 1 else ''}"
                for j, k in enumerate(names)
            ]
            lines.append("}" + tail)
        else:
            lines.append(f"{compact(key)}:{compact(value)}{tail}")
    lines.append("}")
    return ("\n".join(lines) + "\n").encode()


# strings JSON writes as they are, and strings it escapes
PLAIN = ["eq-0001/cpu", "p0", "7467bd5013d6ff3a", "", "é/ü", "a b", "x\x7fy", "€\u2028"]
ESCAPED = ['say "hi"', "back\\slash", "new\nline", "tab\t", "nul\0", "\x1f"]


def random_document(rng: random.Random) -> dict:
    def text() -> str:
        return rng.choice(PLAIN if rng.random() < 0.8 else ESCAPED) + str(rng.randint(0, 99))

    def value():
        return rng.choice(
            [
                text,
                lambda: rng.randint(-5, 5),
                lambda: None,
                lambda: True,
                lambda: [text(), 1],
                lambda: {"b": text(), "a": [None, 2.5]},
                lambda: {},
            ]
        )()

    doc = {}
    for _ in range(rng.randint(0, 5)):
        if rng.random() < 0.25:
            doc[text()] = value()
            continue
        strings = rng.random() < 0.5  # a lock's or inputs' section: strings only
        doc[text()] = {text(): (text() if strings else value()) for _ in range(rng.randint(0, 12))}
    return doc


@pytest.mark.parametrize("batch", [1, 2, 3, 4096])
def test_pieces_are_the_json_modules_text(batch):
    rng = random.Random(batch)
    for _ in range(300):
        doc = random_document(rng)
        pieces = list(iter_pieces(doc, batch))
        assert b"".join(data for _kind, _key, data in pieces) == reference(doc)
        # every piece is whole lines
        assert all(data.endswith(b"\n") for _kind, _key, data in pieces)
        assert dumps(doc).encode() == reference(doc)
        assert list(iter_lines(doc)) == reference(doc).decode().split("\n")[:-1]


def test_a_string_no_encoder_writes_is_refused_as_before():
    with pytest.raises(TypeError):  # orjson's error; json's would be at encode()
        dumps({"s": {"k": "lone \ud800"}})


def test_the_writers_layout_and_digest_are_those_read_back(tmp_path):
    rng = random.Random(7)
    path = tmp_path / "doc.json"
    for _ in range(100):
        doc = random_document(rng)
        with open(path, "wb") as f:
            writer = LineWriter(f)
            writer.write_pieces(iter_pieces(doc, rng.choice([1, 3, 4096])))
            digest = writer.digest()
        assert path.read_bytes() == reference(doc)
        assert writer.layout == Lines.open(path).sections
        assert (digest, writer.blocks) == output_blocks(path)
