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
import stat
from pathlib import Path

PARTIAL_SUFFIX = ".partial"
"""The end of a file being written (a leftover one is a killed write's)."""


def write_whole(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write ``data`` as the file ``path``, replacing it if it exists, whole or not at all (module docstring).

    As a plain write would: through a symbolic link into the file it points to, keeping a replaced file's
    permissions, and raising ``OSError`` naming ``path`` (not the hidden file), which is then as it was.
    ``private``: readable and writable by the owner only, for a file with citizen numbers (BSN) as the backups
    are; a new file otherwise gets ``0o666`` less the umask."""
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    staged = path.with_name(f".{path.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
    try:
        descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        with os.fdopen(descriptor, "wb") as out:
            if not private and path.is_file():
                os.fchmod(out.fileno(), stat.S_IMODE(path.stat().st_mode))
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(staged, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            staged.unlink()
        if isinstance(exc, OSError):
            raise _naming(exc, path) from exc
        raise
    fsync_path(path.parent)


def _naming(error: OSError, path: Path) -> OSError:
    """The same error about ``path``: the hidden file's name means nothing to the user (who never asked for it)."""
    if error.errno is None:
        return error
    return OSError(error.errno, error.strerror, os.fspath(path))  # OSError picks the subclass by the number


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
