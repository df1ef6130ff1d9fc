"""schemas/snavc.json in the real yaml-language-server (issue 11, part 7).

The server (the one VS Code's YAML extension, Neovim and Helix run) is driven over
stdio with the Language Server Protocol, on documents that pick the schema with a
modeline, as docs/editors.md shows. `make editor-test` installs it (npm, into
.cache/editor-test/) and runs this file with ``SNAVC_YLS`` set to the server; without
it, these tests are skipped (plain `make test` needs no node). `.ci/run` runs both.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "schemas" / "snavc.json"
SERVER = os.environ.get("SNAVC_YLS")

pytestmark = pytest.mark.skipif(
    not SERVER, reason="SNAVC_YLS not set: run `make editor-test` (needs node and npm)"
)


class Server:
    """A yaml-language-server over stdio: requests, and the notifications it sends."""

    def __init__(self, command: str):
        self.proc = subprocess.Popen(
            ["node", command, "--stdio"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.next_id = 0
        self.responses: dict[int, dict] = {}
        self.diagnostics: dict[str, list] = {}
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            message = json.loads(out.read(length))
            if "id" in message and "method" in message:  # a request of the server
                result = None
                if message["method"] == "workspace/configuration":
                    result = [SETTINGS["yaml"] for _ in message["params"]["items"]]
                self._send({"id": message["id"], "result": result})
                continue
            with self.cond:
                if "id" in message:
                    self.responses[message["id"]] = message
                elif message.get("method") == "textDocument/publishDiagnostics":
                    params = message["params"]
                    self.diagnostics[params["uri"]] = params["diagnostics"]
                self.cond.notify_all()

    def request(self, method: str, params: dict, timeout: float = 60) -> dict:
        self.next_id += 1
        ident = self.next_id
        self._send({"id": ident, "method": method, "params": params})
        with self.cond:
            assert self.cond.wait_for(lambda: ident in self.responses, timeout), method
            response = self.responses.pop(ident)
        assert "error" not in response, response
        return response["result"]

    def notify(self, method: str, params: dict) -> None:
        self._send({"method": method, "params": params})

    def wait_diagnostics(self, uri: str, timeout: float = 60) -> list:
        with self.cond:
            assert self.cond.wait_for(lambda: uri in self.diagnostics, timeout), uri
            return self.diagnostics[uri]

    def close(self) -> None:
        try:
            self.request("shutdown", {}, timeout=10)
            self.notify("exit", {})
            self.proc.wait(timeout=10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc.stdin.close()
            self.proc.stdout.close()


SETTINGS = {"yaml": {"validate": True, "completion": True, "hover": True, "schemas": {}}}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("editor")
    srv = Server(SERVER)
    srv.request(
        "initialize",
        {
            "processId": os.getpid(),
            "rootUri": root.as_uri(),
            "capabilities": {
                "textDocument": {"completion": {"completionItem": {"snippetSupport": False}}},
                "workspace": {"configuration": True},
            },
        },
    )
    srv.notify("initialized", {})
    srv.notify("workspace/didChangeConfiguration", {"settings": SETTINGS})
    srv.root = root
    yield srv
    srv.close()


def open_document(server: Server, name: str, text: str) -> str:
    uri = (server.root / name).as_uri()
    server.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}},
    )
    return uri


MODELINE = f"# yaml-language-server: $schema={SCHEMA.as_uri()}\n"


def completion_labels(server: Server, uri: str, line: int, character: int) -> set[str]:
    result = server.request(
        "textDocument/completion",
        {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
    )
    items = result["items"] if isinstance(result, dict) else result
    return {i["label"] for i in items}


def test_completion_on_an_equipment_offers_its_fields(server):
    """The issue: on an Equipment the server offered EquipmentTemplate's fields, not
    `box` (it ignores the OpenAPI discriminator that pydantic writes)."""
    text = MODELINE + "kind: Equipment\nid: srv-01\nat: site1\n\n"
    uri = open_document(server, "equipment.yaml", text)
    labels = completion_labels(server, uri, 4, 0)
    assert {"box", "address", "template", "services", "periods"} <= labels
    assert "duplicate_of" not in labels  # an EquipmentTemplate field
    assert not {"kind", "id", "at"} & labels  # already set


def test_completion_on_a_user_offers_role(server):
    text = MODELINE + "kind: User\nid: stephanie\nat: client1\n\n"
    uri = open_document(server, "user.yaml", text)
    labels = completion_labels(server, uri, 4, 0)
    assert "role" in labels
    assert "box" not in labels


def test_a_misspelt_field_is_flagged(server):
    text = MODELINE + "kind: Contact\nid: noc\nat: partner\nname: NOC\nnmae: NOC\n"
    uri = open_document(server, "contact.yaml", text)
    found = server.wait_diagnostics(uri)
    flagged = [(d["range"]["start"]["line"], d["message"]) for d in found if "nmae" in d["message"]]
    assert flagged == [(5, "Property nmae is not allowed.")]


def test_hover_shows_a_field_description(server):
    text = MODELINE + "kind: Equipment\nid: srv-01\nat: site1\nbox: box-1\n"
    uri = open_document(server, "hover.yaml", text)
    result = server.request(
        "textDocument/hover",
        {"textDocument": {"uri": uri}, "position": {"line": 4, "character": 1}},
    )
    assert "ID of the Box that monitors it (B1-B3)" in json.dumps(result)
