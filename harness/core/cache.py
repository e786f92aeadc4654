"""Content-addressed cache: every product lives under a key that hashes everything that determines it.

Layout: <root>/<kind>/<key>/... . The root is `--cache-dir`, else $HARNESS_CACHE, else ./.cache/harness.
Writes go to a temporary file in the same folder and are renamed into place, so a crash never leaves a
half-written product where a later run would find it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

_ROOT: Path | None = None


def set_root(path: str | os.PathLike | None) -> None:
    global _ROOT
    _ROOT = Path(path) if path is not None else None


def root() -> Path:
    if _ROOT is not None:
        return _ROOT
    return Path(os.environ.get("HARNESS_CACHE", ".cache/harness"))


def write_run_files(results: str | os.PathLike | None, stem: str, md: str, body: str) -> list[Path]:
    """A run's <stem>.md and <stem>.json in the cache's runs/ (which `leaderboard` with no pool lists) and, when the
    run was given a results folder (`--results DIR`, `tables`), in DIR/runs/ too; the paths written."""
    paths = []
    for out in [root() / "runs"] + ([Path(results) / "runs"] if results else []):
        paths += [out / f"{stem}.md", out / f"{stem}.json"]
        write_text_atomic(paths[-2], md)
        write_text_atomic(paths[-1], body)
    return paths


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def stable_hash(obj: Any, length: int = 16) -> str:
    """Hash of a JSON-able object that does not depend on dict order or the Python session."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()[:length]


def file_hash(path: str | os.PathLike, length: int = 16) -> str:
    return sha256_file(path)[:length]


_DIGESTS: dict[tuple, str] = {}


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file, remembered for this process per (path, size, mtime): verifying a checkpoint's
    manifest and fingerprinting its weights (reward_models.base, through file_hash) read the bytes once."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def entry(kind: str, key: str) -> Path:
    return root() / kind / key


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, mode_suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed onto `path`, on failure removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp" + mode_suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.is_file():  # mkstemp makes 0600 files; a product is an ordinary file like any other
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def json_text(obj: Any, indent: int | None = None) -> str:
    """The text write_json_atomic writes (keys sorted when indented, one trailing newline)."""
    return json.dumps(obj, ensure_ascii=False, indent=indent, sort_keys=indent is not None) + "\n"


def write_json_atomic(path: str | os.PathLike, obj: Any, indent: int | None = None) -> None:
    write_text_atomic(path, json_text(obj, indent))


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; on success it replaces `path` in one rename, on failure it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def using(path: str | os.PathLike) -> Iterator[Path]:
    """Temporarily point the cache at `path` (tests, benchmarks)."""
    global _ROOT
    before = _ROOT
    _ROOT = Path(path)
    try:
        yield _ROOT
    finally:
        _ROOT = before


# --- verified entries --------------------------------------------------------------------------------------------
# A product is written atomically, then its SHA-256 goes to a sidecar `<file>.sha256` (the `sha256sum` format, so
# `sha256sum -c` checks it by hand too). On read, a sidecar that disagrees with the bytes means the file was damaged
# after it was written: the entry is reported on stderr and treated as missing, so the caller recomputes it. A file
# without a sidecar is accepted: it was still renamed into place whole (entries from before checksums, or a crash
# between the two renames).

CHECKSUM_SUFFIX = ".sha256"


def checksum_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_name(path.name + CHECKSUM_SUFFIX)


def _write_sidecar(path: Path, digest: str) -> None:
    write_text_atomic(checksum_path(path), f"{digest}  {path.name}\n")  # the `sha256sum -c` format


def _recorded_digest(path: Path) -> str | None:
    """The digest in `path`'s sidecar; None without a sidecar (a legacy entry), "" for an unreadable one."""
    try:
        return checksum_path(path).read_text(encoding="utf-8").split()[0]
    except FileNotFoundError:
        return None
    except (IndexError, UnicodeDecodeError):
        return ""


def write_bytes_checked(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    _write_sidecar(path, hashlib.sha256(data).hexdigest())
    return path


def write_json_checked(path: str | os.PathLike, obj: Any, indent: int | None = None) -> Path:
    text = json.dumps(obj, ensure_ascii=False, indent=indent, sort_keys=indent is not None) + "\n"
    return write_bytes_checked(path, text.encode("utf-8"))


def warn_corrupt(path: str | os.PathLike, why: str, action: str = "recomputing it") -> None:
    print(f"warning: corrupt cache entry {path} ({why}); {action}", file=sys.stderr)


def read_bytes_checked(path: str | os.PathLike, action: str = "recomputing it") -> bytes | None:
    """The bytes of `path`, or None when it is missing or fails its checksum (reported on stderr)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    recorded = _recorded_digest(path)
    if not recorded:
        return data
    if hashlib.sha256(data).hexdigest() != recorded:
        warn_corrupt(path, "checksum mismatch", action)
        return None
    return data


def read_json_checked(path: str | os.PathLike, action: str = "recomputing it") -> Any:
    """The JSON value stored at `path`, or None when it is missing, fails its checksum or does not parse."""
    data = read_bytes_checked(path, action)
    if data is None:
        return None
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        warn_corrupt(path, f"unreadable: {e}", action)
        return None


def stamp(path: str | os.PathLike) -> tuple | None:
    """Identity of the file now at `path` (None if missing): a re-check after waiting for a lock reads the entry
    again only if another run replaced it, so a damaged entry is reported once."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def remove_entry(path: str | os.PathLike) -> None:
    for p in (Path(path), checksum_path(path)):
        p.unlink(missing_ok=True)


def adopt_file(path: str | os.PathLike, data: bytes) -> None:
    """Give a legacy entry (written before checksums) its sidecar, from the bytes just read, so later damage shows;
    a read-only cache stays as it is."""
    path = Path(path)
    try:
        _write_sidecar(path, hashlib.sha256(data).hexdigest())
    except OSError:
        pass


def check_file(path: str | os.PathLike, action: str = "recomputing it") -> bool:
    """True when the entry at `path` exists and agrees with its sidecar (a legacy entry without one is accepted and
    adopted); False when missing, or damaged: then it is reported on stderr and removed, so the caller recomputes it.
    Hashes through sha256_file, so checking the same unchanged file again in one process is free."""
    path = Path(path)
    if not path.is_file():
        return False
    recorded = _recorded_digest(path)
    if recorded is None:
        adopt_file(path, path.read_bytes())
        return True
    if sha256_file(path) == recorded:
        return True
    warn_corrupt(path, "checksum mismatch", action)
    remove_entry(path)
    return False


# --- verified folders (checkpoints) ------------------------------------------------------------------------------
# A checkpoint is a folder renamed into place whole. Its last file written before the rename is MANIFEST: the
# SHA-256 of every other file (the `sha256sum` format, so `cd <folder> && sha256sum -c manifest.sha256` checks it by
# hand). On reuse every listed file must match. A folder without a manifest comes from before manifests: it is
# accepted and gets one ("legacy, unverified until now"); a manifest that does not match means damage.

MANIFEST = "manifest.sha256"


def _folder_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST
                  and not (p.name.startswith(".") and p.name.endswith(".tmp")))


def write_manifest(folder: str | os.PathLike) -> Path:
    """Record the hash of every file of `folder` (call it last, inside the atomic folder)."""
    folder = Path(folder)
    lines = [f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}\n" for p in _folder_files(folder)]
    write_text_atomic(folder / MANIFEST, "".join(lines))
    return folder / MANIFEST


def damaged_file(folder: str | os.PathLike) -> tuple[Path, str] | None:
    """(file, what is wrong) for the first file of `folder` that disagrees with its manifest, else None (also for a
    folder without a manifest, which is adopted: see above)."""
    folder = Path(folder)
    manifest = folder / MANIFEST
    try:
        text = manifest.read_text(encoding="utf-8")
    except FileNotFoundError:
        try:
            write_manifest(folder)
        except OSError:
            pass  # a read-only cache: use it unverified
        return None
    except (OSError, UnicodeDecodeError) as e:
        return manifest, f"unreadable manifest: {e}"
    for line in text.splitlines():
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name or name.startswith("/") or ".." in Path(name).parts:
            return manifest, "unreadable manifest"
        f = folder / name
        if not f.is_file():
            return f, "missing"
        if sha256_file(f) != digest:
            return f, "checksum mismatch"
    return None


def discard_dir(folder: str | os.PathLike) -> None:
    """Remove a damaged folder: renamed aside first (one step, so no run finds half of it), then deleted."""
    folder = Path(folder)
    aside = folder.with_name(f".{folder.name}.damaged-{os.getpid()}")
    try:
        os.replace(folder, aside)
    except FileNotFoundError:
        return  # another run removed it first
    shutil.rmtree(aside, ignore_errors=True)


def check_dir(folder: str | os.PathLike, action: str = "recomputing it") -> bool:
    """True when the folder entry exists and is intact (or legacy); False when missing, or damaged: then one line on
    stderr names the bad file, the folder is removed and the caller recomputes it."""
    folder = Path(folder)
    if not folder.is_dir():
        return False
    bad = damaged_file(folder)
    if bad is None:
        return True
    warn_corrupt(bad[0], bad[1], action)
    discard_dir(folder)
    return False
