"""Writing files so that a crash never leaves half of one: write aside, flush, rename."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

#: Suffix of the files being written; a file with it was never finished and may be removed.
PARTIAL = ".partial"


def partial_path(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place (a hidden name beside it)."""
    return path.with_name(f".{path.name}{PARTIAL}")


@contextmanager
def atomic_path(path: Path, durable: bool = False):
    """A temporary path to write ``path``'s content to; on success it is renamed to ``path``
    (readers see the old file or the whole new one, never part of it), on failure removed.

    ``durable``: flush the file and its folder to the disk before and after the rename, so
    that the file survives a power cut once this returns (not only a killed process).
    """
    path = Path(path)
    temporary = partial_path(path)
    try:
        yield temporary
        if durable:
            _sync(temporary)
        os.replace(temporary, path)
        if durable:
            _sync(path.parent)
    finally:
        temporary.unlink(missing_ok=True)


def write_text(path: Path, text: str, durable: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path, durable) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


def _sync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
