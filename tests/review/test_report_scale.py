"""The review report at scale (issue 11, part 5): identical changes collapsed, the
summary and changed inputs first, a byte cap that keeps the summary and says what it
cut, and every user string escaped for markdown and HTML.

The issue's case is a partner's default check period removed on a generated estate
(20,000 equipment gave a 1,035,072-character comment); here on 200 equipment, the
same shape: every equipment of the partner's clients changes the same way.
"""

from __future__ import annotations

import json

import pytest

from snavc.bench.generate import generate

from .helpers import SITE2_EQ, edit, snav, validate_report

REPORT_CAP = 65_000  # characters GitHub keeps of a comment (65,536), with a margin


@pytest.fixture(scope="module")
def estate_builds(tmp_path_factory):
    """(old build, new build) of a generated estate whose partner no longer makes
    p0-extended the default check period (business-hours, the product's, takes over).
    The generator's equipment that set availability 24x7 also set check 24x7 (H8), so
    they keep it: 138 equipment change, not all of the partner's clients'."""
    root = tmp_path_factory.mktemp("scale")
    repo = root / "estate"
    generate(repo, 200)
    old = root / "old"
    snav("build", repo, "-o", old)
    edit(
        repo,
        "p0/partner.yaml",
        '  saturday: ["08:00-12:00"]\ndefault_for: [check]\n',
        '  saturday: ["08:00-12:00"]\n',
    )
    new = root / "new"
    snav("build", repo, "-o", new)
    return old, new


def test_identical_changes_are_one_row_each(estate_builds):
    old, new = estate_builds
    md = snav("diff", old, new, "--format", "markdown").stdout
    assert md.startswith(
        "<!-- snavc-report -->\n"
        f"### snavc review: `{old}` → `{new}`\n"
        "\n"
        "**160 changed** · 1 input changed\n"
        "\n"
        "#### Inputs changed\n"
    )
    assert (
        "#### Identical changes\n"
        "\n"
        "| objects | change | for example |\n"
        "|---|---|---|\n"
        "| 138 equipment in 2 clients | `periods.check`: p0-extended (p0) → business-hours "
        "(product) | `eq-000000`, `eq-000001`, `eq-000003`, … 135 more |\n"
        "| 20 nodes in 2 clients | `defaults.check`: p0-extended (p0) → business-hours (product) "
        "| `p0`, `p0-c00000`, `p0-c00000-s00`, … 17 more |\n"
        "\n"
    ) in md
    # the inputs before the groups, the groups before the objects left (2 user services)
    assert (
        md.index("#### Inputs changed") < md.index("#### Identical changes") < md.index("<details")
    )
    assert md.count("| — | user-service `") == 2
    assert "equipment `eq-0" not in md  # no row per equipment
    assert len(md) < 2_000


def test_the_json_report_carries_the_groups(estate_builds):
    old, new = estate_builds
    report = json.loads(snav("diff", old, new, "--format", "json").stdout)
    validate_report(report)
    assert report["collapsed"][0] == {
        "kind": "equipment",
        "count": 138,
        "changes": [
            {
                "op": "changed",
                "path": "periods.check",
                "old": {"id": "p0-extended", "from": "p0"},
                "new": {"id": "business-hours", "from": "product"},
            }
        ],
        "examples": ["eq-000000", "eq-000001", "eq-000003"],
        "clients": 2,
    }
    assert [(g["kind"], g["count"]) for g in report["collapsed"]] == [
        ("equipment", 138),
        ("node", 20),
    ]
    # every object stays in `changes`: the JSON is the full report
    assert sum(c["kind"] == "equipment" for c in report["changes"]) == 138


@pytest.fixture(scope="module")
def many_rows(tmp_path_factory):
    """(old, new) where 200 equipment change each their own way: nothing collapses."""
    root = tmp_path_factory.mktemp("rows")
    repo = root / "estate"
    generate(repo, 200)
    old = root / "old"
    snav("build", repo, "-o", old)
    for path in sorted(repo.rglob("*-s*.yaml")):
        path.write_text(path.read_text().replace("address: 10.", "address: 11."))
    new = root / "new"
    snav("build", repo, "-o", new)
    return old, new


def test_max_bytes_keeps_the_summary_and_says_what_was_cut(many_rows, tmp_path):
    old, new = many_rows
    whole = snav("diff", old, new, "--format", "markdown", "--max-bytes", "0").stdout
    assert "Cut to fit" not in whole and len(whole.encode()) > 4_000
    md = snav("diff", old, new, "--format", "markdown", "--max-bytes", "4000").stdout
    assert len(md.encode()) <= 4_000
    assert md.startswith(
        "<!-- snavc-report -->\n"
        f"### snavc review: `{old}` → `{new}`\n"
        "\n"
        "**200 changed** · 200 inputs changed\n"
    )
    shown_inputs = md.count("\n| `equipment/eq-")
    shown_rows = md.count(" | equipment `eq-")
    assert 0 < shown_inputs == shown_rows < 200
    cut = 200 - shown_rows
    assert md.endswith(
        f"> ✂️ **Cut to fit the comment:** {cut} inputs, {cut} objects not shown. For the full "
        "report, run `snavc` again with `--max-bytes 0 -o FILE` (or `--full-report FILE`).\n"
    )
    # the cut is the largest that fits: one more row of each would not
    full = tmp_path / "full.md"
    md = snav(
        "diff", old, new, "--format", "markdown", "--max-bytes", "4000", "--full-report", full
    ).stdout
    assert md.endswith(f"The full report is `{full}`.\n")
    assert full.read_text(encoding="utf-8") == whole


def test_markdown_is_capped_by_default_and_text_is_not(many_rows):
    old, new = many_rows
    # 200 inputs and 200 rows fit in 60,000 bytes: nothing cut by default
    md = snav("diff", old, new, "--format", "markdown").stdout
    assert "Cut to fit" not in md
    text = snav("diff", old, new, "--max-bytes", "2000").stdout
    assert len(text.encode()) <= 2_000
    assert text.startswith(
        f"{old} -> {new}\n+0 added, ~200 changed, -0 removed; 200 inputs changed\n"
    )
    assert text.rstrip().endswith("--max-bytes 0 -o FILE writes the full report)")
    assert "cut at" not in snav("diff", old, new).stdout


def test_max_bytes_smaller_than_the_summary_still_gives_it(many_rows):
    old, new = many_rows
    md = snav("diff", old, new, "--format", "markdown", "--max-bytes", "400").stdout
    assert len(md.encode()) <= 400
    assert "**200 changed**" in md
    assert "200 inputs, 200 objects not shown" in md
    md = snav("diff", old, new, "--format", "markdown", "--max-bytes", "160").stdout
    assert len(md.encode()) <= 160
    assert "**200 changed**" in md and md.endswith("\n(cut at 160 bytes)\n")


def test_json_is_never_cut(many_rows):
    old, new = many_rows
    report = json.loads(snav("diff", old, new, "--format", "json", "--max-bytes", "100").stdout)
    assert report["summary"]["changed"] == 200


def test_user_strings_are_escaped_for_html_and_markdown(seed, built):
    """A client named `</details>` broke the comment; one named `<img src=x ...>` would
    inject into it. Names and values are shown, never obeyed."""
    repo = seed()
    old = built(repo)
    edit(
        repo,
        "clients/client1/client.yaml",
        "name: Client 1 infogérance",
        'name: "</details><img src=x onerror=alert(1)>"',
    )
    edit(repo, SITE2_EQ, "name: File server 02", 'name: "*bold* [link](http://x) | `tick`"')
    md = snav("diff", old, built(repo), "--format", "markdown").stdout
    assert "<img" not in md and md.count("</details>") == md.count("<details")
    assert (
        "<summary><b>&lt;/details&gt;&lt;img src=x onerror=alert(1)&gt;</b> "
        "(<code>client1</code>): 2 changed</summary>"
    ) in md
    assert ("| `name`: File server 02 → \\*bold\\* \\[link\\](http://x) \\| \\`tick\\` |") in md
    assert (
        "| `name`: Client 1 infogérance → &lt;/details&gt;&lt;img src=x onerror=alert(1)&gt; |"
        in md
    )


def test_escaping_filters():
    from snavc.review.report import code, md

    assert md("a<b>&c|d") == "a&lt;b&gt;&amp;c\\|d"
    assert md("Client 1 (Paris): 10.0.0.1 → 10.0.0.2") == "Client 1 (Paris): 10.0.0.1 → 10.0.0.2"
    assert code("periods.check") == "`periods.check`"
    assert code("a`b|<c>") == "<code>a`b&#124;&lt;c&gt;</code>"
