"""Files snavc writes besides a build (issue 10): an imported repository, an export, a
report. Each is written whole or not at all: a full disk or a kill leaves no part of
one, and nothing behind."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from snavc.cli import cli
from snavc.engine.faults import replace_file

from .conftest import fill, leftovers, run, used

HEADER = (
    "ID,Name,IP address or DNS name,Company Name,Company ID,Parent company name,"
    "Parent company ID,Collector name,Collector ID,Category,Host templates,Host template IDs,"
    "Criticality,Check interval (min),Labels,Label IDs,Status\r\n"
)


def hosts_csv(folder, count: int):
    rows = [
        f"{i},host {i},10.0.{i // 250}.{i % 250},Site {i % 40},{1000 + i % 40},Acme,1,"
        f"SNM,50,Server,Linux base,70,3,5,Prod,90,On\r\n"
        for i in range(1, count + 1)
    ]
    path = folder / "hosts.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8", newline="")
    return path


def invoke(*args) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


def test_import_on_a_full_disk_writes_no_half_repository(tmp_path, small_disk):
    hosts = hosts_csv(tmp_path, 3000)  # about 1 MB of YAML
    out = small_disk / "repo"
    filler = fill(small_disk, 64 * 1024)
    full = used(small_disk)
    code, output = invoke("import", hosts, "-o", out)
    assert code == 1 and "No space left on device" in output, output
    assert not out.exists()
    assert os.listdir(small_disk) == ["filler"]  # no temporary folder left
    assert used(small_disk) == full
    filler.unlink()
    assert invoke("import", hosts, "-o", out)[0] == 0
    assert (out / "snav.yaml").is_file()


def test_killed_import_leaves_no_repository_and_the_next_one_sweeps_its_folder(tmp_path):
    hosts = hosts_csv(tmp_path, 20)
    out = tmp_path / "repo"
    assert run("import", hosts, "-o", out, crash="import") == 137
    assert not out.exists()
    assert len(leftovers(tmp_path)) == 1  # the killed process's .repo.PID
    assert run("import", hosts, "-o", out) == 0
    assert leftovers(tmp_path) == []
    assert (out / "snav.yaml").is_file()


def test_import_into_an_existing_empty_folder_fills_that_folder(tmp_path):
    hosts = hosts_csv(tmp_path, 5)
    out = tmp_path / "repo"
    out.mkdir()
    assert run("import", hosts, "-o", out) == 0
    assert (out / "snav.yaml").is_file() and leftovers(tmp_path) == []


@pytest.mark.parametrize("pieces", [False, True])
def test_a_file_replaced_on_a_full_disk_stays_the_old_one(small_disk, pieces):
    path = small_disk / "report.md"
    path.write_text("previous report\n")
    filler = fill(small_disk, 16 * 1024)
    data = b"x" * (1024 * 1024)
    try:  # (pieces: as the lock is written, emit.write_atomic)
        replace_file(
            path, (data[i : i + 4096] for i in range(0, len(data), 4096)) if pieces else data
        )
    except OSError as e:
        assert e.errno == 28  # ENOSPC
    else:
        raise AssertionError("a megabyte fitted in 16 KiB")
    assert path.read_text() == "previous report\n"
    assert sorted(os.listdir(small_disk)) == ["filler", "report.md"]
    filler.unlink()
    replace_file(path, b"new\n", durable=True)
    assert path.read_bytes() == b"new\n"
