"""The bulk hex-string reader gives what pyHanko's own reader gives, and refuses what it refuses."""

from __future__ import annotations

import os
from io import BytesIO

import pytest
from pyhanko.pdf_utils.misc import PdfStreamError

from signing import _hexstrings

CASES = [
    b"<48656C6C6F>",
    b"<48 65\n6C6c6F> trailing",
    b"<486>",
    b"<>",
    b"< \r\n>",
    b"<4%a comment\n8>",
    b"<" + os.urandom(40000).hex().encode() + b">" + b"0" * 10,
]


@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_same_result_and_position_as_pyhanko(data: bytes) -> None:
    theirs, ours = BytesIO(data), BytesIO(data)

    expected = _hexstrings._original(theirs)
    got = _hexstrings.read_hex_string_from_stream(ours)

    assert got == expected and type(got) is type(expected)
    assert ours.tell() == theirs.tell()


@pytest.mark.parametrize("data", [b"<48zz>", b"<4848", b"<"])
def test_refuses_what_pyhanko_refuses(data: bytes) -> None:
    with pytest.raises(PdfStreamError):
        _hexstrings._original(BytesIO(data))
    with pytest.raises(PdfStreamError):
        _hexstrings.read_hex_string_from_stream(BytesIO(data))
