"""Root cause first, no cascades (issue 11, part 1).

An object, document or file that failed to load or validate is known but broken: a
reference to it is not an error and gets no did-you-mean; suggestions name only objects
of the same kind visible from where the reference is; load and schema errors come first.
"""

from __future__ import annotations

import json

import pytest
from conftest import diagnostics, run, where

from snavc.bench.generate import generate
from snavc.engine.load import broken_identities
from snavc.validate import did_you_mean


@pytest.fixture(scope="module")
def estate(tmp_path_factory):
    """A generated estate of two clients (200 equipment): big enough for the cascade."""
    out = tmp_path_factory.mktemp("estate") / "e"
    generate(out, 200)
    return out


def test_one_stray_tab_in_a_client_file_is_one_error(estate, tmp_path):
    """The issue's case: one tab in one client file gave 443 errors in 11 files (every
    reference to the client's objects, from its ten site files, with did-you-means to
    the other client's objects). Now: the tab, alone."""
    import shutil

    repo = tmp_path / "tab"
    shutil.copytree(estate, repo)
    path = repo / "p0" / "p0-c00001" / "client.yaml"
    text = path.read_text(encoding="utf-8")
    assert "\n  monday:" in text
    path.write_text(text.replace("\n  monday:", "\n\tmonday:", 1), encoding="utf-8")
    line = text[: text.index("\n  monday:")].count("\n") + 2
    items = json.loads(run("validate", "--format", "json", repo, exit_code=1).output)
    assert [(i["code"], i["file"], i["line"], i["column"]) for i in items] == [
        ("SNV103", "p0/p0-c00001/client.yaml", line, 1)
    ]


def test_a_unit_service_of_equipment_below_a_broken_client_is_not_dangling(tmp_path):
    """The seed's webshop lists unit services of srv-web-01, at Client 1 Site 1: with a
    tab in Client 1's file, the site (and its equipment) is out of the tree, but the
    equipment exists; 'no equipment srv-web-01' (and a did-you-mean) was a cascade."""
    import shutil
    from pathlib import Path

    repo = tmp_path / "seed"
    shutil.copytree(Path(__file__).resolve().parents[1] / "samples" / "seed", repo)
    path = repo / "clients" / "client1" / "client.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("\nparent: ", "\n\tparent: ", 1), encoding="utf-8")
    line = text[: text.index("\nparent: ")].count("\n") + 2
    items = json.loads(run("validate", "--format", "json", repo, exit_code=1).output)
    assert [(i["code"], i["file"], i["line"], i["column"]) for i in items] == [
        ("SNV103", "clients/client1/client.yaml", line, 1)
    ]


@pytest.mark.parametrize(
    "file",
    [
        "partner/partner.yaml",
        "clients/client1/client.yaml",
        "partner/users.yaml",
        # a maintenance window's target (W2) is an equipment of this file
        "clients/client2/site1/equipment.yaml",
    ],
)
def test_a_tab_before_id_is_one_error(tmp_path, file):
    """A stray tab on the `id:` line hid the object's identity from broken_identities:
    every reference to it was SNV302 (15 errors for the partner's node, 6 for its users)."""
    import shutil
    from pathlib import Path

    repo = tmp_path / "seed"
    shutil.copytree(Path(__file__).resolve().parents[1] / "samples" / "seed", repo)
    path = repo / file
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("\nid: ", "\n\tid: ", 1), encoding="utf-8")
    line = text[: text.index("\nid: ")].count("\n") + 2
    items = json.loads(run("validate", "--format", "json", repo, exit_code=1).output)
    assert [(i["code"], i["file"], i["line"], i["column"]) for i in items] == [
        ("SNV103", file, line, 1)
    ]


SEED = __import__("pathlib").Path(__file__).resolve().parents[1] / "samples" / "seed"


def test_an_equipment_of_a_broken_template_has_unknown_unit_services(tmp_path):
    """A tab in the partner's templates.yaml breaks the equipment template srv-web-01
    is made from (acme-linux; the file fails to load whole): its unit services are unknown,
    so its service_settings for 'disk' (SNV443) and the webshop's reference to
    srv-web-01/ping (SNV302, with a did-you-mean) were cascades. Now: the tab, alone."""
    import shutil

    repo = tmp_path / "seed"
    shutil.copytree(SEED, repo)
    path = repo / "partner" / "templates.yaml"
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[12] == "name: CPU usage (strict)"
    lines[12] = "\t" + lines[12]
    path.write_text("\n".join(lines), encoding="utf-8")
    items = json.loads(run("validate", "--format", "json", repo, exit_code=1).output)
    assert [(i["code"], i["file"], i["line"], i["column"]) for i in items] == [
        ("SNV103", "partner/templates.yaml", 13, 1)
    ]


def test_an_equipment_of_a_duplicate_of_a_refused_template_has_unknown_unit_services(tmp_path):
    """The same through duplicate_of (T7): srv-web-01 made from a duplicate of acme-linux,
    which validation refuses (an unknown field): only that field's SNV203."""
    import shutil

    repo = tmp_path / "seed"
    shutil.copytree(SEED, repo)
    path = repo / "partner" / "templates.yaml"
    text = path.read_text(encoding="utf-8")
    old = "services: [ping, cpu, disk, memory]\n"
    assert old in text
    text = text.replace(old, old + "colour: red\n", 1)
    text += "---\nkind: EquipmentTemplate\nid: acme-2\nat: partner\nduplicate_of: acme-linux\n"
    path.write_text(text, encoding="utf-8")
    line = text[: text.index("colour: red")].count("\n") + 1
    eq = repo / "clients" / "client1" / "site1" / "equipment.yaml"
    eq_text = eq.read_text(encoding="utf-8")
    eq.write_text(eq_text.replace("template: acme-linux ", "template: acme-2     ", 1), "utf-8")
    assert [(d.code, d.file, d.line) for d in diagnostics(repo)] == [
        ("SNV203", "partner/templates.yaml", line)
    ]


@pytest.mark.parametrize("where_", ["first", "middle"])
def test_a_tab_in_any_seed_file_gives_only_root_cause_diagnostics(tmp_path, where_):
    """A stray tab on the first (`kind:`) or the middle content line of each seed file:
    every diagnostic is that file's own load error (SNV1xx), none elsewhere (issue 11).
    snav.yaml included: its default_user is then unknown, not missing (no SNV305)."""
    import shutil

    repo = tmp_path / "seed"
    shutil.copytree(SEED, repo)
    files = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*.yaml"))
    assert len(files) > 30
    for file in files:
        path = repo / file
        text = path.read_text(encoding="utf-8")
        lines = text.split("\n")
        content = [
            i
            for i, line in enumerate(lines)
            if line.strip() and not line.lstrip().startswith("#") and line != "---"
        ]
        i = content[0] if where_ == "first" else content[len(content) // 2]
        lines[i] = "\t" + lines[i]
        path.write_text("\n".join(lines), encoding="utf-8")
        found = [(d.code, d.file, d.line) for d in diagnostics(repo)]
        path.write_text(text, encoding="utf-8")
        assert found, file
        assert all(f == file and code.startswith("SNV1") for code, f, _ in found), (file, found)
        assert ("SNV103", file, i + 1) in found, (file, found)


def test_broken_identities_reads_kind_and_id_of_each_document(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "# a client\nkind: Client\nid: c1  # the first\nparent: p\n---\n"
        "kind: Contact\nid: 'noc'\nat: c1\n  nested:\n\tbad: [\n---\n"
        'kind: "Box"\nid: "b1"\n---\nkind: Contact\n',
        encoding="utf-8",
    )
    assert broken_identities(path) == {("Client", "c1"), ("Contact", "noc"), ("Box", "b1")}
    path.write_text("kind: Contact\n\tid: noc\n---\n\tkind: Box\nid: b1\n", encoding="utf-8")
    assert broken_identities(path) == {("Contact", "noc"), ("Box", "b1")}
    assert broken_identities(tmp_path / "missing.yaml") == set()


def test_reference_to_an_object_refused_by_validation_is_not_an_error(make_repo):
    repo = make_repo(
        {
            "c.yaml": """\
            kind: Contact
            id: desk
            at: partner
            name: Desk
            mail: desk@example.net
            ---
            kind: ContactGroup
            id: oncall
            at: partner
            members: [desk, dsk]
            """
        }
    )
    assert [(*where(d), d.message) for d in diagnostics(repo)] == [
        (
            "SNV203",
            None,
            "c.yaml",
            5,
            1,
            "unknown field 'mail' in Contact 'desk'; did you mean 'email'?",
        ),
        (
            "SNV302",
            None,
            "c.yaml",
            10,
            17,
            "ContactGroup 'oncall' refers to Contact 'dsk', which does not exist",
        ),
    ]


def test_reference_into_a_file_with_a_syntax_error_is_not_an_error(make_repo):
    repo = make_repo(
        {
            "a.yaml": "kind: Contact\nid: desk\nat: partner\nname: [Desk\n",
            "b.yaml": "kind: ContactGroup\nid: oncall\nat: partner\nmembers: [desk]\n",
        }
    )
    assert [where(d) for d in diagnostics(repo)] == [("SNV101", None, "a.yaml", 5, 1)]


CLIENTS = """\
kind: Client
id: c1
name: C1
parent: partner
mode: managed
---
kind: Client
id: c2
name: C2
parent: partner
mode: managed
---
kind: Contact
id: desk-c2
at: c2
name: Desk of c2
email: desk@c2.example
"""


def test_did_you_mean_never_names_an_object_out_of_scope(make_repo):
    """A contact at another client is never selectable here: no suggestion of it
    (issue 11: did-you-means pointed at another client's objects)."""
    repo = make_repo(
        {
            "clients.yaml": CLIENTS,
            "g.yaml": "kind: ContactGroup\nid: team\nat: c1\nmembers: [desk-c1]\n",
        }
    )
    (d,) = diagnostics(repo)
    assert where(d) == ("SNV302", None, "g.yaml", 4, 11)
    assert d.message == "ContactGroup 'team' refers to Contact 'desk-c1', which does not exist"


def test_did_you_mean_names_an_object_in_scope(make_repo):
    repo = make_repo(
        {
            "clients.yaml": CLIENTS,
            "g.yaml": "kind: ContactGroup\nid: team\nat: c2\nmembers: [desk-c1]\n",
        }
    )
    (d,) = diagnostics(repo)
    assert d.message == (
        "ContactGroup 'team' refers to Contact 'desk-c1', which does not exist; "
        "did you mean 'desk-c2'?"
    )


def test_did_you_mean_for_a_parent_names_a_node_of_the_right_level(make_repo):
    """A site's parent is a client: a site named like the typo is not a suggestion."""
    repo = make_repo(
        {
            "clients.yaml": CLIENTS,
            "s.yaml": "kind: Site\nid: paris-1\nname: P\nparent: c1\n---\n"
            "kind: Site\nid: paris-2\nname: P\nparent: paris\n",
        }
    )
    (d,) = diagnostics(repo)
    assert where(d) == ("SNV302", None, "s.yaml", 9, 9)
    assert d.message == "Site 'paris-2' refers to node 'paris', which does not exist"


def test_did_you_mean():
    assert did_you_mean("nmae", ["name", "email", "at"]) == "; did you mean 'name'?"
    assert did_you_mean("Name", ["name"]) == "; did you mean 'name'?"
    assert did_you_mean("name", ["name"]) == ""
    assert did_you_mean("zzzz", ["name", "email"]) == ""
    assert did_you_mean(3, ["name"]) == ""
    assert did_you_mean("noc-01", iter(["noc-02", "desk"])) == "; did you mean 'noc-02'?"


def test_did_you_mean_is_the_same_whatever_the_order_of_the_candidates():
    """Equally close candidates: the first in sorted order, so that a warm build (its
    names listed in another order) guesses as a cold one does."""
    close = ["eq-000060/http-front", "eq-000001/http-front", "eq-000010/http-front"]
    for order in (close, close[::-1], sorted(close)):
        assert did_you_mean("eq-000061/http-front", order) == (
            "; did you mean 'eq-000001/http-front'?"
        )
    assert did_you_mean("WEB", ["web", "Web"]) == "; did you mean 'Web'?"
    assert did_you_mean("WEB", ["Web", "web"]) == "; did you mean 'Web'?"
