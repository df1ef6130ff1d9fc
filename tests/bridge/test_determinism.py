"""Same exports, same repository: the import's output does not depend on Python's hash
seed (no set or hashed order decides a file, a folder or a line)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HEADER = (
    "ID,Name,IP address or DNS name,Company Name,Company ID,Parent company name,"
    "Parent company ID,Collector name,Collector ID\n"
)
CASES = {
    # one box monitoring hosts of three partners: no node is above them all
    "three-partners": HEADER + "1,a,10.0.0.1,Client A,200,Partner X,100,Box Z,500\n"
    "2,b,10.0.0.2,Client B,201,Partner Y,101,Box Z,500\n"
    "3,c,10.0.0.3,Client C,202,Partner W,102,Box Z,500\n",
    # a cycle of parent companies (A -> B -> A)
    "cycle": HEADER + "1,a,10.0.0.1,Comp A,200,Comp B,201,Box A,500\n"
    "2,b,10.0.0.2,Comp B,201,Comp A,200,Box A,500\n",
    # boxes and companies named in every order
    "many": HEADER
    + "".join(
        f"{i},h{i},10.0.1.{i},Client {i % 7},{300 + i % 7},Partner,1,Box {i % 5},{600 + i % 5}\n"
        for i in range(1, 40)
    ),
}


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_import_is_the_same_whatever_the_hash_seed(tmp_path, case):
    hosts = tmp_path / "hosts.csv"
    hosts.write_text(CASES[case], encoding="utf-8")
    outputs = []
    for seed in ("1", "2", "3", "4"):
        out = tmp_path / f"out-{seed}"
        done = subprocess.run(
            [sys.executable, "-m", "snavc", "import", str(hosts), "-o", str(out)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode in (0, 1), done.stderr
        said = done.stdout.replace(str(out), "OUT")
        outputs.append((done.returncode, said, _tree(out) if out.exists() else None))
    assert all(o == outputs[0] for o in outputs[1:])
    assert outputs[0][2]  # something was written


def test_export_and_drift_are_the_same_whatever_the_hash_seed(tmp_path):
    from .conftest import small_estate

    hosts, services, _repo, build = small_estate(tmp_path / "e")
    # the product since: a host renamed, one more, a service's criticality changed
    hosts.write_text(
        hosts.read_text(encoding="utf-8").replace(",web,", ",web-renamed,")
        + "3,new,10.0.0.3,Shop,7,Partner,1,Box,8,2,,,1\n",
        encoding="utf-8",
    )
    services.write_text(
        services.read_text(encoding="utf-8").replace(
            "102,CPU,2,CPU check,80,4", "102,CPU,2,CPU check,80,5"
        ),
        encoding="utf-8",
    )
    seen = []
    for seed in ("1", "2", "3"):
        out = tmp_path / f"out-{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        said = []
        for args in (
            ["export", build, "--like", hosts, "--like", services, "-o", out, "--format", "json"],
            ["drift", build, "--export", hosts, "--export", services, "--format", "json"],
        ):
            done = subprocess.run(
                [sys.executable, "-m", "snavc", *map(str, args)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            said.append(done.stdout.replace(str(out), "OUT"))
        seen.append((said, _tree(out)))
    assert all(s == seen[0] for s in seen[1:])
