"""The arith world as shipped data: built once, frozen into tasks/arith/data/v<N>/, evaluated as it is on every clone.

Training the generators is not reproducible across machines (float rounding between CPUs changes the training
trajectory: two machines built the same config into other checkpoints and pools), so benchmarks ship their data.
The frozen world holds the three generators (safetensors + tokenizer) and the test, RM-training and validation
pools (xz-compressed JSON Lines), with a manifest of every file's SHA-256:

    data/v7/world.json           the build's summary: config, generator statistics, content key
    data/v7/MANIFEST.json        {"version", "content_key", "files": {path: sha256}, "pools": {name: sha256 of the
                                 uncompressed pool}}
    data/v7/generators/<name>/   config.json, model.safetensors, tokenizer files, chat template, generator.json,
                                 and the cache's manifest.sha256 of them
    data/v7/pools/<pool>.jsonl.xz

A world is named by its content key: a hash of the bytes of what was built (the uncompressed pools and the
generators' files), not of its config, so two builds that differ in one byte never share results. Runs record it;
`tables` compares it.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import shutil
from pathlib import Path

from harness.core import cache
from harness.core.errors import InputError

VERSION = 7
DATA = Path(__file__).resolve().parent / "data" / f"v{VERSION}"
def generator_files(folder: Path) -> list[Path]:
    """A generator folder's files (weights, config, tokenizer, chat template, generator.json), not its manifest."""
    return sorted(f for f in Path(folder).iterdir() if f.is_file() and f.name != cache.MANIFEST
                  and not f.name.startswith("."))


def content_key(pool_digests: dict[str, str], generator_dirs: dict[str, Path]) -> str:
    """The world's name from what was built: every pool's SHA-256 (uncompressed) and every generator file's bytes."""
    gens = {g: {f.name: cache.sha256_file(f) for f in generator_files(d)} for g, d in generator_dirs.items()}
    return f"v{VERSION}-" + cache.stable_hash({"pools": pool_digests, "generators": gens}, 12)


def built_content_key(pool_paths: dict[str, Path], generator_dirs: dict[str, Path]) -> str:
    return content_key({name: cache.sha256_file(p) for name, p in pool_paths.items()}, generator_dirs)


def is_shipped() -> bool:
    return (DATA / "MANIFEST.json").is_file()


def manifest() -> dict:
    try:
        return json.loads((DATA / "MANIFEST.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"the shipped arith world's manifest is unreadable ({e})", file=DATA / "MANIFEST.json",
                         expected="the file as committed: `git checkout -- tasks/arith/data` restores it") from None


def summary() -> dict:
    return json.loads((DATA / "world.json").read_text(encoding="utf-8"))


_VERIFIED: set[str] = set()


def verify() -> dict:
    """Every shipped file against the manifest (once per process); a damaged or missing one is an InputError."""
    m = manifest()
    if m["content_key"] in _VERIFIED:
        return m
    for rel, digest in sorted(m["files"].items()):
        path = DATA / rel
        if not path.is_file():
            raise InputError("a file of the shipped arith world is missing", file=path,
                             expected="the committed file: `git checkout -- tasks/arith/data` restores it")
        if cache.sha256_file(path) != digest:
            raise InputError("a file of the shipped arith world does not match its checksum", file=path,
                             expected=f"sha256 {digest[:16]}... as in MANIFEST.json (`git checkout -- "
                                      "tasks/arith/data` restores it)")
    _VERIFIED.add(m["content_key"])
    return m


def generator_path(name: str) -> Path:
    return DATA / "generators" / name


def pool_path(name: str) -> Path:
    """The uncompressed pool (e.g. "test-mid") in the cache, decompressed from the shipped file on first use and
    checked against the manifest's digest of the uncompressed bytes."""
    m = verify()
    if name not in m["pools"]:
        raise InputError(f"the shipped arith world has no pool '{name}'", file=DATA / "MANIFEST.json",
                         expected="one of " + ", ".join(sorted(m["pools"])))
    out = cache.root() / "arith" / m["content_key"] / "pools" / f"{name}.jsonl"
    if out.is_file() and cache.check_file(out, "decompressing it again"):
        return out
    data = lzma.decompress((DATA / "pools" / f"{name}.jsonl.xz").read_bytes())
    if hashlib.sha256(data).hexdigest() != m["pools"][name]:
        raise InputError("a shipped pool decompresses to other bytes than were frozen", file=DATA / "pools",
                         expected=f"{name}: sha256 {m['pools'][name][:16]}...")
    cache.write_bytes_checked(out, data)
    return out


def freeze(summary_: dict, pool_paths: dict[str, Path], generator_dirs: dict[str, Path], out: Path = DATA) -> dict:
    """Write a built world as shipped data under `out` (replacing what is there); returns the manifest."""
    out = Path(out)
    with cache.atomic_dir(out) as tmp:
        files: dict[str, str] = {}
        pools: dict[str, str] = {}
        for name, src in sorted(pool_paths.items()):
            data = Path(src).read_bytes()
            pools[name] = hashlib.sha256(data).hexdigest()
            dst = tmp / "pools" / f"{name}.jsonl.xz"
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
        for g, d in sorted(generator_dirs.items()):
            (tmp / "generators" / g).mkdir(parents=True)
            for f in generator_files(d):
                shutil.copyfile(f, tmp / "generators" / g / f.name)
            cache.write_manifest(tmp / "generators" / g)  # the cache's checkpoint check reads it, never writes one
        key = content_key(pools, {g: tmp / "generators" / g for g in generator_dirs})
        summ = {**summary_, "content_key": key, "pools": {n: f"pools/{n}.jsonl.xz" for n in sorted(pools)}}
        (tmp / "world.json").write_text(json.dumps(summ, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        for f in sorted(tmp.rglob("*")):
            if f.is_file():
                files[f.relative_to(tmp).as_posix()] = cache.sha256_file(f)
        m = {"version": VERSION, "content_key": key, "files": files, "pools": pools}
        (tmp / "MANIFEST.json").write_text(json.dumps(m, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return m
