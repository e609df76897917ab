"""``read_csv`` reads a plain UTF-8 file from its bytes, yet gives exactly what decoding it first gave.

The specification is the reader as it was before the bytes path: decode the whole file (``utf-8-sig``), check
the text, give Polars an ``io.StringIO``. Hypothesis draws files from pieces that touch every check (BOMs, bytes
that are no UTF-8, NUL, CR and CRLF line ends, quotes, blank and repeated header cells, Unicode whitespace and
digits); both readers must give equal frames, or the same :class:`FileError` message.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import polars as pl
from hypothesis import example, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from integraal.importing.validation import ROW, FileError, _check_header, _diagnose, read_csv


def decoding_read_csv(path: Path | str, data: bytes | None = None) -> pl.DataFrame:
    """The reader before the bytes path (the specification)."""
    name = str(path)
    raw = Path(path).read_bytes() if data is None else data
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileError(name, "not UTF-8 text: the file is UTF-16 (or UTF-32); save it as CSV in UTF-8")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise FileError(
            name, f"not UTF-8 text (invalid byte at line {line}, byte {exc.start}); save it as CSV in UTF-8"
        ) from exc
    if not text.strip():
        raise FileError(name, "the file is empty (a header row is required)")
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise FileError(name, f"a NUL byte at line {line}: not a text file (save it as CSV in UTF-8)")
    if "\n" not in text and "\r" in text:
        text = text.replace("\r", "\n")
    _check_header(name, text)
    try:
        frame = pl.read_csv(io.StringIO(text), infer_schema=False, has_header=True)
    except (pl.exceptions.PolarsError, ValueError) as exc:
        where = _diagnose(text)
        if where:
            raise FileError(name, f"not a readable CSV file: {where}") from exc
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise FileError(name, f"not a readable CSV file ({exc.__class__.__name__}: {first[:200]})") from exc
    frame = frame.with_columns(pl.all().fill_null("").str.strip_chars())
    return frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


PIECES = [
    *(s.encode() for s in ("a", "b", "agb", "name", "1", "08000001", "x y", "é", "€", "٣", "__", "\t", " ")),
    *(s.encode() for s in ("\u00a0", "\u2028", "\u3000", "\ufeff", "\x1c", "\x0b")),
    b",",
    b",",
    b'"',
    b'""',
    b"\n",
    b"\n",
    b"\r\n",
    b"\r",
    b"\x00",
    b"\xff",
    b"\xc3",  # the first byte of a two-byte character, alone
    b"\xe2\x82",  # two of three
    b"\xef\xbb\xbf",  # a BOM (inside the file)
]
HEADERS = [b"", b"agb,name\n", b"agb,name,city\r\n", b'"agb","name"\n', b"agb,agb\n", b"a,,b\n", b" \n", b"x"]
STARTS = [b"", b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb"]


CLEAN = [p for p in PIECES if p not in (b'"', b'""', b"\r", b"\x00", b"\xff", b"\xc3", b"\xe2\x82")]


@st.composite
def files(draw: st.DrawFn) -> bytes:
    """Half of them from pieces that keep a file readable (the bytes path), half from every piece."""
    start = draw(st.sampled_from(STARTS))
    header = draw(st.sampled_from(HEADERS))
    pieces = draw(st.sampled_from([CLEAN, PIECES]))
    body = b"".join(draw(st.lists(st.sampled_from(pieces), max_size=40)))
    return start + header + body


def outcome(reader: Callable[..., pl.DataFrame], data: bytes) -> tuple[str, object]:
    try:
        return "frame", reader("f.csv", data=data)
    except FileError as error:
        return "file error", str(error)
    except Exception as error:  # whatever the specification raises, the reader must raise too
        return "raised", type(error)


@settings(max_examples=600, deadline=None)
@given(data=files())
@example(data=b"agb,name\n08000001,De Linde\n")
@example(data=b"\xef\xbb\xbfagb,name\n08000001,De Linde\n")
@example(data=b"\xef\xbb\xbf\xef\xbb\xbfagb,name\n1,2\n")  # a second BOM is in the first column's name
@example(data=b"agb,name\r08000001,x\r")  # CR line ends only
@example(data=b"agb,name\n08000001,De\x00Linde\n")
@example(data="agb,name\n1,é\n".encode("utf-16"))
@example(data=b"agb,name\n1,\xe9\n")  # Latin-1
@example(data=b'agb,name\n08000001,"De Linde\n08000002,x\n')
@example(data=b"agb,name\n08000001,a,b\n")
@example(data=b'"agb\nx",name\n1,2\n')  # a quoted header cell over two lines
@example(data=b"agb,name")  # no line end
@example(data=b" \n\t\n")
@example(data=b"\xc2\xa0\n1\n")  # a header of Unicode white space only
@example(data=b"agb," + b"x" * 70_000 + b"\n1,2\n")
@example(data=b"agb,name\n \xe3\x80\x80x\xe2\x80\xa8,\t1 \n")  # Unicode white space around values
def test_reading_bytes_gives_what_decoding_gave(data: bytes) -> None:
    expected = outcome(decoding_read_csv, data)
    actual = outcome(read_csv, data)
    assert actual[0] == expected[0], (actual, expected)
    if expected[0] == "frame":
        assert isinstance(actual[1], pl.DataFrame) and isinstance(expected[1], pl.DataFrame)
        assert_frame_equal(actual[1], expected[1])
    else:
        assert actual[1] == expected[1]


def test_a_file_on_disk_is_read_like_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "providers.csv"
    path.write_bytes("\ufeffagb,name,city\r\n08000001, De Linde ,Tiel\r\n08000002,Één,\r\n".encode())
    assert_frame_equal(read_csv(path), decoding_read_csv(path))
    assert read_csv(path).row(1) == (2, "08000002", "Één", "")
