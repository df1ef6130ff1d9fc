"""Faults of a build resolved in shards (snavc.engine.shards), sharding forced on the
seed: a shard that dies leaves the build to resolve its equipment (same bytes, exit
0); a build killed while its shards run keeps the previous output and lock, and the
next build is clean (its shards gone, the output's lock not held by them)."""

from __future__ import annotations

import os

import pytest

from snavc.engine import shards

from .conftest import assert_next_build_is_clean, change_configuration, files, lock_of, run

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="shards need fork")


@pytest.fixture(autouse=True)
def sharded(monkeypatch):
    monkeypatch.setattr(shards, "MIN_EQUIPMENT", 2)
    monkeypatch.setattr(shards, "MIN_PER_SHARD", 1)
    monkeypatch.setenv("SNAVC_JOBS", "2")


def test_a_dead_shard_is_made_up_for(seed, tmp_path):
    out = tmp_path / "out"
    change_configuration(seed)
    assert run("build", seed, "-o", out, crash="shard", env={"SNAVC_NO_CACHE": "1"}) == 0
    assert_next_build_is_clean(seed, out, tmp_path)


@pytest.mark.parametrize("point", ["load", "resolve", "finish"])
def test_a_build_killed_with_its_shards(seed, tmp_path, point):
    out = tmp_path / "out"
    before, lock_before = files(out), lock_of(seed)
    change_configuration(seed)
    assert run("build", seed, "-o", out, crash=point) == 137
    assert files(out) == before
    assert lock_of(seed) == lock_before
    assert_next_build_is_clean(seed, out, tmp_path)
