"""A full disk for tests: the writes of chosen files stop half-way with ``ENOSPC``, as on a real full disk.

``FullDisk(monkeypatch, "B0000002")`` makes every file opened for writing whose name contains ``B0000002`` (through
``os.open`` and ``os.fdopen``, or ``open``, ``io.open`` and so ``Path.write_bytes``) take half of what is first
written to it and then fail, so that what a failed write leaves behind (a cut file, a temporary one) is really on
disk to be looked for.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
from typing import Any

import pytest


class _FillingFile:
    """A file object that writes the first half of the first write, then fails as a full disk does."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def write(self, data: bytes) -> int:
        self._handle.write(data[: len(data) // 2])
        self._handle.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __enter__(self) -> _FillingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


class FullDisk:
    """Installs the full disk for the files whose name contains one of ``names`` (undone with ``monkeypatch``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
        self.names = names
        self.hit: list[str] = []  # the files whose write failed
        self._full: set[int] = set()
        real_open, real_fdopen, real_io_open = os.open, os.fdopen, io.open

        def opening(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            descriptor = real_open(path, flags, *args, **kwargs)
            if any(name in os.fspath(path) for name in names):
                self._full.add(descriptor)
                self.hit.append(os.fspath(path))
            return descriptor

        def fdopen(descriptor: int, *args: Any, **kwargs: Any) -> Any:
            handle = real_fdopen(descriptor, *args, **kwargs)
            return _FillingFile(handle) if descriptor in self._full else handle

        def io_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            handle = real_io_open(file, mode, *args, **kwargs)
            writing = any(flag in mode for flag in "wax+")
            if writing and not isinstance(file, int) and any(name in os.fspath(file) for name in names):
                self.hit.append(os.fspath(file))
                return _FillingFile(handle)
            return handle

        monkeypatch.setattr(os, "open", opening)
        monkeypatch.setattr(io, "open", io_open)
        monkeypatch.setattr(builtins, "open", io_open)
        monkeypatch.setattr(os, "fdopen", fdopen)
