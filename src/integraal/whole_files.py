"""Files that appear whole or not at all: the claim files, statements and backup manifests Integraal hands on.

A claim file that a killed process or a full disk left half-written under its own name looks like any other
file to send: a back office that uploads the folder sends the insurer a cut file. So such a file is written next
to its place under a hidden temporary name (``.NAME.<random>.partial``), flushed to disk, and then renamed over
its place in one step (``os.replace``): a reader sees the file as it was before or the new one, never a part,
also after a power cut (the folder's entry is flushed too).

A process killed while writing leaves its hidden ``.partial`` file behind (nothing runs after SIGKILL). It never
carries the real name (``*.kz301`` does not match it) and may be deleted; a failed write that Python sees (a full
disk, a folder that cannot be written) removes it itself.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

PARTIAL_SUFFIX = ".partial"
"""The end of a file being written (a leftover one is a killed write's)."""


def write_whole(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write ``data`` as the file ``path``, replacing it if it exists, whole or not at all (module docstring).

    ``private``: readable and writable by the owner only, for a file with citizen numbers (BSN) as the backups
    are; otherwise with the permissions a plain write gives (``0o666`` less the umask). Raises ``OSError`` as a
    plain write would; ``path`` is then as it was."""
    staged = path.with_name(f".{path.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
    descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(staged, path)
    except BaseException:
        with contextlib.suppress(OSError):
            staged.unlink()
        raise
    fsync_path(path.parent)


def fsync_path(path: Path) -> None:
    """Flush a file, or a folder's entries (a rename in it), to disk, where the platform allows it."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
