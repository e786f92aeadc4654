"""The arith world as shipped data: frozen from a build, opened without training or sampling, named by content."""

from __future__ import annotations

import shutil

import pytest

from harness.core import cache
from harness.core.errors import InputError


@pytest.fixture
def built(smoke_world):
    return smoke_world


def _inputs(cfg):
    from tasks.arith.world import world_generators, world_pools
    return world_pools(cfg), world_generators(cfg)


def test_a_build_is_named_by_its_content_and_one_checkpoint_byte_renames_it(built, tmp_path):
    from tasks.arith import frozen
    from tasks.arith.world import built_key
    cfg, root, summary = built
    with cache.using(root):
        pools, gens = _inputs(cfg)
        key = built_key(cfg)
        assert summary["content_key"] == key and key.startswith(f"v{frozen.VERSION}-")
        assert key != cfg.key()  # not the config's name
        copies = {g: shutil.copytree(d, tmp_path / g) for g, d in gens.items()}
        assert frozen.built_content_key(pools, copies) == key  # where the files are does not matter
        weights = copies["mid"] / "model.safetensors"
        data = bytearray(weights.read_bytes())
        data[-1] ^= 1
        weights.write_bytes(bytes(data))
        assert frozen.built_content_key(pools, copies) != key
        pool = tmp_path / "pool.jsonl"
        pool.write_bytes(pools["test-weak"].read_bytes() + b"\n")
        assert frozen.built_content_key({**pools, "test-weak": pool}, gens) != key


def test_a_frozen_world_opens_without_building_and_gives_back_the_same_bytes(built, tmp_path, monkeypatch):
    from harness.core.fingerprint import fingerprint
    from tasks.arith import frozen
    from tasks.arith.world import open_world
    from tasks.arith.world_config import GENERATORS
    cfg, root, summary = built
    data = tmp_path / "data" / "v7"
    monkeypatch.setattr(frozen, "DATA", data)
    monkeypatch.setattr(frozen, "_VERIFIED", set())
    with cache.using(root):
        pools, gens = _inputs(cfg)
        m = frozen.freeze(summary, pools, gens, out=data)
        originals = {n: p.read_bytes() for n, p in pools.items()}
        prints = {g: fingerprint(d) for g, d in gens.items()}
    assert m["content_key"] == summary["content_key"]  # frozen, it keeps the name of what was built
    assert sum(f.stat().st_size for f in data.rglob("*") if f.is_file()) < sum(map(len, originals.values())) + sum(
        f.stat().st_size for d in gens.values() for f in d.iterdir())  # compressed
    fresh = tmp_path / "fresh"
    with cache.using(fresh):
        world = open_world(cfg, log=lambda msg: pytest.fail(f"built something: {msg}"))
        assert world.frozen and world.key == m["content_key"]
        for name, raw in originals.items():
            split, gen = name.split("-", 1)
            assert world.pool(split, gen).read_bytes() == raw
        assert {g: fingerprint(world.generator(g)) for g in GENERATORS} == prints  # RM checkpoints are shared
    assert not (fresh / "arith" / cfg.key()).exists()  # nothing trained or sampled
    # a shipped file that does not match the manifest is refused, naming it
    xz = data / "pools" / "test-mid.jsonl.xz"
    xz.write_bytes(xz.read_bytes()[:-1] + bytes([xz.read_bytes()[-1] ^ 1]))
    monkeypatch.setattr(frozen, "_VERIFIED", set())
    with cache.using(tmp_path / "fresh2"), pytest.raises(InputError, match="does not match its checksum") as e:
        open_world(cfg)
    assert "test-mid.jsonl.xz" in str(e.value)
    # --rebuild uses the world built in the cache instead
    with cache.using(root):
        assert not open_world(cfg, rebuild=True).frozen


def test_the_shipped_world_matches_its_manifest():
    from tasks.arith import frozen
    if not frozen.is_shipped():
        pytest.skip("no world shipped in tasks/arith/data (a checkout without it)")
    m = frozen.verify()
    s = frozen.summary()
    assert m["content_key"] == s["content_key"] and set(m["pools"]) == set(s["pools"])
    assert {"test-weak", "test-mid", "test-strong", "rm_train-mid", "rm_val-mid"} <= set(m["pools"])
    assert sum((frozen.DATA / f).stat().st_size for f in m["files"]) < 16 * 2 ** 20
