"""User service components (U2, U3): docs/rules/user-services.md."""

from __future__ import annotations

from .helpers import clean, only, pin

HOSTS = """\
kind: Equipment
id: web
at: client1-site1
box: box-c1s1
services:
  - template: ping
---
kind: Equipment
id: far
at: client1-site2
box: box-c1s2
"""


def us(ident: str, at: str, components: str, extra: str = "") -> str:
    return f"kind: UserService\nid: {ident}\nat: {at}\ncomponents:\n{components}{extra}"


def test_U2_components_and_fields_reach_effective(compile_files):
    docs = [
        us("dns", "client1-site1", "  - host: web\n"),
        us(
            "shop",
            "client1-site1",
            "  - host: web\n  - service: web/ping\n    impact: degrading\n  - user_service: dns\n",
            "criticality: 4\navailability_target: 99.5\nweather: false\nhosting: cloud\n",
        ),
    ]
    result, res = compile_files({"hosts.yaml": HOSTS, "us.yaml": "---\n".join(docs)})
    clean(result)
    shop = res.user_services["shop"]
    assert shop["components"] == [
        {"host": "web", "impact": "blocking"},
        {"service": "web/ping", "impact": "degrading"},
        {"user_service": "dns", "impact": "blocking"},
    ]
    assert (shop["criticality"], shop["availability_target"], shop["weather"], shop["hosting"]) == (
        4,
        99.5,
        False,
        "cloud",
    )
    assert "components" not in res.user_services["dns"] or res.user_services["dns"]["components"]


def test_U3_a_component_cycle_is_an_error_naming_the_chain(compile_files):
    docs = [
        us("a", "client1-site1", "  - user_service: b\n"),
        us("b", "client1-site1", "  - user_service: c\n"),
        us("c", "client1-site1", "  - user_service: a\n"),
    ]
    result, _ = compile_files({"hosts.yaml": HOSTS, "us.yaml": "---\n".join(docs)})
    d = only(result, "SNV309")
    assert pin(d) == ("error", "SNV309", "U3", "us.yaml", 5, 19)
    assert "a -> b -> c -> a" in d.message


def test_U2_a_component_must_name_exactly_one_object(compile_files):
    docs = [us("a", "client1-site1", "  - host: web\n    user_service: a\n")]
    result, _ = compile_files({"hosts.yaml": HOSTS, "us.yaml": "---\n".join(docs)})
    assert pin(only(result, "SNV225")) == ("error", "SNV225", "U2", "us.yaml", 5, 5)


def test_U1_U2_components_out_of_reach_or_dangling(compile_files):
    docs = [
        us("a", "client1-site1", "  - host: far\n  - service: web/pong\n  - user_service: zz\n")
    ]
    result, _ = compile_files({"hosts.yaml": HOSTS, "us.yaml": "---\n".join(docs)})
    assert [(d.code, d.line) for d in result.diagnostics] == [
        ("SNV418", 5),
        ("SNV302", 6),
        ("SNV302", 7),
    ]


def test_U2_one_object_twice_among_the_components_is_an_error(compile_files):
    """Two impacts for one host: which holds was not said (both reached effective.json)."""
    components = "  - host: web\n    impact: degrading\n  - service: web/ping\n  - host: web\n"
    result, _ = compile_files(
        {"hosts.yaml": HOSTS, "us.yaml": us("shop", "client1-site1", components)}
    )
    d = only(result, "SNV205")
    assert pin(d) == ("error", "SNV205", "U2", "us.yaml", 8, 5)  # (the third: line 8)
    assert "components 1 and 3 both name Equipment 'web'" in d.message
