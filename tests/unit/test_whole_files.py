"""Files handed on (claim files, statements, backup manifests) appear whole or not at all (``whole_files``)."""

from __future__ import annotations

import errno
import os
import random
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from disk_faults import FullDisk
from integraal.whole_files import PARTIAL_SUFFIX, write_whole


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_file_is_written_whole_and_replaces_the_one_before(tmp_path: Path) -> None:
    path = tmp_path / "B0000001.kz301"
    write_whole(path, b"first")
    assert path.read_bytes() == b"first"
    write_whole(path, b"second, longer")
    assert path.read_bytes() == b"second, longer"
    assert [p.name for p in tmp_path.iterdir()] == ["B0000001.kz301"]  # no temporary file left


@pytest.mark.usefixtures("umask")
def test_a_private_file_is_the_owners_only_and_another_as_a_plain_write_makes_it(tmp_path: Path) -> None:
    private, plain, reference = tmp_path / "claims.kz301", tmp_path / "statement.pdf", tmp_path / "plain"
    write_whole(private, b"BSN")
    private.chmod(0o644)
    write_whole(private, b"BSN", private=True)  # also when it replaces a file that others could read
    write_whole(plain, b"%PDF")
    reference.write_bytes(b"%PDF")
    assert private.stat().st_mode & 0o777 == 0o600
    assert plain.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("existing", [None, b"the file sent last week"])
def test_a_full_disk_leaves_the_file_as_it_was_and_nothing_else(tmp_path, monkeypatch, existing) -> None:
    path = tmp_path / "B0000002.kz301"
    if existing is not None:
        path.write_bytes(existing)
    disk = FullDisk(monkeypatch, "B0000002")
    with pytest.raises(OSError, match="No space left on device") as raised:
        write_whole(path, b"x" * 100_000, private=True)
    monkeypatch.undo()
    assert raised.value.errno == errno.ENOSPC
    assert disk.hit  # the write really failed half-way, on disk
    assert (path.read_bytes() if path.exists() else None) == existing
    assert [p.name for p in tmp_path.iterdir()] == ([path.name] if existing is not None else [])


def test_a_file_in_a_missing_folder_is_an_error_that_makes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "B0000001.kz301"
    with pytest.raises(FileNotFoundError) as raised:
        write_whole(path, b"data")
    assert raised.value.filename == str(path)  # the file asked for, not the hidden one it would have been made as
    assert list(tmp_path.iterdir()) == []


def test_an_error_names_the_file_asked_for(tmp_path, monkeypatch) -> None:
    path = tmp_path / "B0000002.kz301"
    FullDisk(monkeypatch, "B0000002")
    with pytest.raises(OSError, match="No space left") as raised:
        write_whole(path, b"x" * 1000)
    monkeypatch.undo()
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(path)
    assert str(raised.value) == f"[Errno {errno.ENOSPC}] No space left on device: '{path}'"
    assert PARTIAL_SUFFIX not in str(raised.value)


def test_a_link_is_written_through_and_a_replaced_file_keeps_its_permissions(tmp_path: Path) -> None:
    """As a plain write: a back office's link (``latest.pdf`` → a shared folder) stays a link to the new file,
    and a statement its owner made readable to the group stays so."""
    shared = tmp_path / "shared"
    shared.mkdir()
    target, link = shared / "statement.pdf", tmp_path / "latest.pdf"
    target.write_bytes(b"%PDF old")
    target.chmod(0o640)
    link.symlink_to(target)
    write_whole(link, b"%PDF new")
    assert link.is_symlink() and link.read_bytes() == b"%PDF new" and target.read_bytes() == b"%PDF new"
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in shared.iterdir()) == ["statement.pdf"]
    write_whole(link, b"BSN", private=True)  # a private file is the owner's only, whatever it was
    assert link.is_symlink() and target.stat().st_mode & 0o777 == 0o600


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from integraal.whole_files import write_whole

    folder, n = Path(sys.argv[1]), 0
    while True:  # the same four claim files written over and over, each time with other content
        n += 1
        write_whole(folder / f"B{n % 4}.kz301", bytes([n % 256]) * (1_000_000 + n % 256 * 4096))
        if n == 4:
            print("ready", flush=True)
    """
)


def _whole(content: bytes) -> bool:
    """Whether ``content`` is one whole file of the writer above: its length follows from its byte."""
    return len(set(content)) == 1 and len(content) == 1_000_000 + content[0] * 4096


def test_a_writer_killed_at_any_moment_leaves_every_file_whole(tmp_path: Path) -> None:
    """SIGKILL at seeded random moments of a process that writes claim files without a pause: every file under
    its own name is whole; only hidden ``.partial`` files may be cut. With a plain ``write_bytes`` instead of
    ``write_whole``, this fails at the first or second kill (checked)."""
    rng = random.Random(7)
    cut: list[str] = []
    for kill in range(8):
        folder = tmp_path / f"run-{kill}"
        folder.mkdir()
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(folder)], stdout=subprocess.PIPE, text=True)
        assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.0, 0.3))
        writer.kill()
        writer.communicate(timeout=60)
        named = sorted(p for p in folder.iterdir() if not p.name.endswith(PARTIAL_SUFFIX))
        assert [p.name for p in named] == ["B0.kz301", "B1.kz301", "B2.kz301", "B3.kz301"]
        broken = [p.name for p in named if not _whole(p.read_bytes())]
        assert not broken, f"kill {kill}: cut under their own name: {broken}"
        cut += [p.name for p in folder.iterdir() if p.name.endswith(PARTIAL_SUFFIX)]
    assert all(name.startswith(".B") for name in cut)  # hidden, and not matched by *.kz301
