"""A step's code directory (``source_dir=``), snapshotted by content like SageMaker's upload.

SageMaker's ``source_dir``/``code`` pair uploads the whole directory and runs ``code`` from it;
here the directory becomes one deterministic tar (sorted entries, no times or owners) stored
under ``code/<sha256>.tar`` at upsert, and the step's cache key uses the tree hash of its files
(path and content of each), so editing any file invalidates the cache and touching none keeps it.
On the node that runs the step the tar is unpacked into the attempt's work dir, which is then
the script's working directory and import root.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from rayline.definition.steps.base import CodeRef
from rayline.errors import PipelineDefinitionError

#: What a snapshot leaves out: caches and version control, never the user's code.
IGNORED_DIRS = frozenset({"__pycache__", ".git"})
IGNORED_SUFFIXES = (".pyc", ".pyo")

#: The largest directory a step may ship (its files' total size), and the most files: a step's
#: code is stored per distinct content and unpacked for every attempt, so data belongs in inputs.
MAX_SOURCE_DIR_BYTES = 50 * 1024 * 1024
MAX_SOURCE_DIR_FILES = 5_000


@dataclass(frozen=True)
class SourceDirRef(CodeRef):
    """The code of a step with ``source_dir``: ``sha256`` names the stored tar, ``directory`` is
    where it was snapshotted, ``entry_point`` the script inside it (a relative POSIX path) and
    ``tree_sha256`` the hash of its files. ``source_sha256`` (the cache identity) covers the
    tree and the entry point."""

    directory: str = ""
    entry_point: str = ""
    tree_sha256: str = ""

    def to_request(self) -> dict[str, Any]:
        return {
            **super().to_request(),
            "SourceDir": self.directory,
            "EntryPoint": self.entry_point,
            "TreeSha256": self.tree_sha256,
        }

    @classmethod
    def from_request(cls, r: dict[str, Any]) -> SourceDirRef:
        return cls(
            r["Path"],
            r["Sha256"],
            r.get("SourceSha256", ""),
            directory=r["SourceDir"],
            entry_point=r["EntryPoint"],
            tree_sha256=r.get("TreeSha256", ""),
        )


def source_dir_ref(source_dir: str, code: str, *, step: str) -> SourceDirRef:
    """Snapshot ``source_dir`` (hashing its files and the tar) with ``code`` as its entry script,
    given relative to the directory (or as an absolute path inside it)."""
    root = Path(source_dir).expanduser()
    if not root.is_dir():
        where = "is a file, not a directory" if root.is_file() else "does not exist"
        raise PipelineDefinitionError(
            f"step {step!r}: source_dir {source_dir!r} {where} (looked at {root.resolve()}); give "
            "the directory holding the step's code, relative to the working directory or absolute"
        )
    root = root.resolve()
    entry = _entry_point(root, code, step=step)
    files = snapshot_files(root, step=step)
    if entry not in {rel for rel, _ in files}:
        raise PipelineDefinitionError(
            f"step {step!r}: entry script {code!r} is not a file of source_dir {str(root)!r}; "
            "with source_dir=, code= names the script inside it, as in SageMaker "
            "(code='preprocess.py', source_dir='src/')"
        )
    tree = tree_sha256(files)
    archive = hashlib.sha256(archive_bytes(files)).hexdigest()
    identity = hashlib.sha256(f"source_dir\0{tree}\0{entry}".encode()).hexdigest()
    return SourceDirRef(
        str(root / entry),
        archive,
        identity,
        directory=str(root),
        entry_point=entry,
        tree_sha256=tree,
    )


def _entry_point(root: Path, code: str, *, step: str) -> str:
    if not isinstance(code, str) or not code:
        raise PipelineDefinitionError(
            f"step {step!r}: with source_dir=, code= must name the entry script inside it "
            "(a path like 'preprocess.py')"
        )
    path = Path(code).expanduser()
    target = (path if path.is_absolute() else root / path).resolve()
    try:
        rel = target.relative_to(root)
    except ValueError:
        raise PipelineDefinitionError(
            f"step {step!r}: entry script {code!r} ({target}) is not inside source_dir "
            f"{str(root)!r}; give its path relative to source_dir (code='preprocess.py')"
        ) from None
    return rel.as_posix()


def snapshot_files(root: Path, *, step: str) -> list[tuple[str, Path]]:
    """The files a snapshot of ``root`` holds, ``(relative POSIX path, path)`` in path order;
    refuses a directory over ``MAX_SOURCE_DIR_BYTES`` or ``MAX_SOURCE_DIR_FILES``."""
    files: list[tuple[str, Path]] = []
    total = 0
    sizes: list[tuple[int, str]] = []
    for current, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS)
        for name in sorted(names):
            if name.endswith(IGNORED_SUFFIXES):
                continue
            path = Path(current, name)
            if not path.is_file():  # a dangling link or a socket: nothing to ship
                continue
            rel = path.relative_to(root).as_posix()
            size = path.stat().st_size
            files.append((rel, path))
            sizes.append((size, rel))
            total += size
            if len(files) > MAX_SOURCE_DIR_FILES:
                raise PipelineDefinitionError(
                    f"step {step!r}: source_dir {str(root)!r} holds more than "
                    f"{MAX_SOURCE_DIR_FILES} files; a step's code directory should hold code: "
                    "move data into a ProcessingInput"
                )
    if total > MAX_SOURCE_DIR_BYTES:
        biggest = ", ".join(f"{rel} ({size / 2**20:.1f} MiB)" for size, rel in sorted(sizes)[-3:])
        raise PipelineDefinitionError(
            f"step {step!r}: source_dir {str(root)!r} holds {total / 2**20:.1f} MiB, over the "
            f"{MAX_SOURCE_DIR_BYTES // 2**20} MiB a step's code may take (largest: {biggest}); "
            "move data files into a ProcessingInput and keep source_dir for code"
        )
    files.sort()
    return files


def tree_sha256(files: list[tuple[str, Path]]) -> str:
    """The content hash of the snapshot: each file's relative path and SHA-256, in path order."""
    h = hashlib.sha256()
    for rel, path in files:
        h.update(rel.encode())
        h.update(b"\0")
        h.update(hashlib.sha256(path.read_bytes()).hexdigest().encode())
    return h.hexdigest()


def archive_bytes(files: list[tuple[str, Path]]) -> bytes:
    """A tar of the snapshot that depends on nothing but paths, contents and the executable bit
    (no times, owners or order of the disk), so the same directory always stores the same bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, path in files:
            data = path.read_bytes()
            info = tarfile.TarInfo(str(PurePosixPath(rel)))
            info.size = len(data)
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def directory_snapshot(ref: SourceDirRef, *, step: str) -> bytes | None:
    """The tar of ``ref``'s directory as it is now (None when it is not on this machine), for
    upsert to store; its hash must still be ``ref.sha256``."""
    root = Path(ref.directory)
    if not root.is_dir():
        return None
    return archive_bytes(snapshot_files(root, step=step))
