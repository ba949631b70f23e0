"""What identifies a version of a file, for the caches of what is read from it."""

from __future__ import annotations

from pathlib import Path


def file_version(path: Path) -> tuple[int, int, int]:
    """``path``'s inode, size and modification time (ns): a file written anew (a new inode, as a rename
    over it makes) or edited in place (size or time) has another. Raises the ``OSError`` of ``stat``."""
    stat = path.stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns
