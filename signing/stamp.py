"""The visible seal stamp: signer, Athens date-time and a QR code to the verification page."""

from __future__ import annotations

import functools
import logging
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from fontTools import subset
from fontTools.ttLib import TTFont
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.opentype import CIDFontType2, GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp import QRStampStyle

from core.clock import ATHENS
from core.errors import ConfigurationError

# fontTools warns on every stamp about font tables it drops while subsetting (e.g. FFTM,
# a FontForge timestamp); none of them matters in a PDF.
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)

# Noto Sans (Debian fonts-noto-core) covers Greek. pyHanko 0.38 writes glyph widths in font
# units as if every font had 1000 units per em; DejaVu Sans has 2048, so its text comes out
# spaced twice too wide. Any replacement font must have 1000 units per em.
NOTO_SANS = Path("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf")

STAMP_TEXT = (
    "Ψηφιακή σφραγίδα · Digital seal\n%(signer)s\n%(when)s (ώρα Ελλάδας)\nΕπαλήθευση · Verify: %(code)s"
)
#: An official's signature: name and title (θέση) as the caller gives them, in Greek.
SIGNATURE_TEXT = "Ψηφιακή υπογραφή · Digital signature\n%(signer)s\n%(title)s\n%(when)s (ώρα Ελλάδας)"
#: The organisation's seal stamping the protocol number and date after registration.
REGISTRATION_TEXT = (
    "Αρ. Πρωτ. · Ref. no: %(protocol)s\nΗμερομηνία · Date: %(date)s\n"
    "Σφραγίδα · Seal: %(signer)s\nΕπαλήθευση · Verify: %(code)s"
)


@dataclass(frozen=True)
class StampPlacement:
    """Where a document template puts the stamp: page index (-1 = last) and box in points."""

    page: int = -1
    box: tuple[int, int, int, int] = (300, 30, 570, 110)

    def __post_init__(self) -> None:
        x1, y1, x2, y2 = self.box
        if x2 - x1 < 120 or y2 - y1 < 50:
            raise ConfigurationError(
                f"the stamp box {self.box} is too small; give at least 120x50 points "
                "(x1, y1, x2, y2 from the bottom-left corner of the page)."
            )


@dataclass(frozen=True)
class Stamp:
    """What a visible stamp shows. ``signer_name`` defaults to the certificate's name.

    ``text`` is the template (:data:`STAMP_TEXT`, :data:`SIGNATURE_TEXT`,
    :data:`REGISTRATION_TEXT`); ``details`` fill its other placeholders (``title``,
    ``protocol``, ``date``).
    """

    verification_url: str
    verification_code: str = ""
    signer_name: str | None = None
    placement: StampPlacement = field(default_factory=StampPlacement)
    text: str = STAMP_TEXT
    details: tuple[tuple[str, str], ...] = ()

    def text_params(self, when: datetime) -> dict[str, str]:
        """Values for the stamp's text template."""
        params = {
            "url": self.verification_url,
            "when": when.astimezone(ATHENS).strftime("%d/%m/%Y %H:%M:%S"),
            "code": self.verification_code or self.verification_url,
        }
        params.update(self.details)
        if self.signer_name:
            params["signer"] = self.signer_name
        return params


#: What a stamp may show: Latin and Greek letters (with accents), digits, punctuation, €.
STAMP_UNICODES = (
    *range(0x20, 0x7F),
    *range(0xA0, 0x180),
    *range(0x370, 0x400),
    *range(0x1F00, 0x2000),
    *range(0x2010, 0x2070),
    0x20AC,
)


@functools.cache
def _font_bytes(path: str) -> bytes:
    """The font cut down, once per process, to what stamps show.

    pyHanko subsets the font again for every stamp, and parsing all of Noto Sans (3,700+
    glyphs and their layout tables) for that took ~300 ms of each seal.
    """
    font = TTFont(BytesIO(Path(path).read_bytes()))
    options = subset.Options()
    # Greek and Latin need no shaping; without the layout tables (kerning of thousands of
    # pairs) there is little left for pyHanko to parse per stamp.
    options.layout_features = []
    options.drop_tables += ["GSUB", "GPOS", "GDEF"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=STAMP_UNICODES)
    subsetter.subset(font)
    out = BytesIO()
    font.save(out)
    return out.getvalue()


@functools.lru_cache(maxsize=256)
def _font_program(path: str, glyph_ids: frozenset[int]) -> bytes:
    """The font cut down to ``glyph_ids``, compressed: the /FontFile2 of a stamp.

    Cut as pyHanko cuts it (glyph ids kept, no layout tables). Stamps one after another
    draw the same glyphs (the same signer, title and digits), and cutting the font for
    every stamp was a third of preparing a signature.
    """
    font = TTFont(BytesIO(_font_bytes(path)))
    options = subset.Options(layout_closure=False)
    options.drop_tables += ["GPOS", "GDEF", "GSUB"]
    options.retain_gids = True
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(gids=sorted(glyph_ids))
    subsetter.subset(font)
    out = BytesIO()
    font.save(out)
    return zlib.compress(out.getvalue())


class _CachedFontProgram(CIDFontType2):
    """pyHanko's TrueType CID font, embedding a program from :func:`_font_program`."""

    def __init__(self, font: CIDFontType2, path: str) -> None:
        super().__init__(font.tt_font, font.name.split("+", 1)[1], font.subset_prefix)
        self._path = path
        self.glyph_ids: frozenset[int] = frozenset()

    def set_font_file(self, writer: BasePdfFileWriter) -> generic.IndirectObject:
        stream = generic.StreamObject(
            {generic.pdf_name("/Filter"): generic.pdf_name("/FlateDecode")},
            encoded_data=_font_program(self._path, self.glyph_ids),
        )
        reference = writer.add_object(stream)
        self._font_descriptor[generic.pdf_name("/FontFile2")] = reference
        return reference


class _StampGlyphs(GlyphAccumulator):
    """pyHanko's glyph accumulator, with the embedded font taken from a cache."""

    def __init__(self, path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(self.cidfont_obj, CIDFontType2):  # TrueType outlines, as Noto Sans has
            self.cidfont_obj = _CachedFontProgram(self.cidfont_obj, path)

    def prepare_write(self) -> None:
        if isinstance(self.cidfont_obj, _CachedFontProgram) and not self._subset_created:
            self.cidfont_obj.glyph_ids = frozenset(self._glyphs)
            self._subset_created = True  # pyHanko would cut self.tt; the cache has it cut
        super().prepare_write()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class _InMemoryFontFactory(GlyphAccumulatorFactory):
    """Reads the font file once; pyHanko's factory opens it per stamp and never closes it."""

    def create_font_engine(self, writer: BasePdfFileWriter, obj_stream: Any = None) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()  # type: ignore[no-untyped-call]
        return _StampGlyphs(
            self.font_file,
            writer=writer,
            font_handle=BytesIO(_font_bytes(self.font_file)),
            font_size=self.font_size,
            obj_stream=obj_stream,
        )


def stamp_style(font_path: Path = NOTO_SANS, text: str = STAMP_TEXT) -> QRStampStyle:
    """A QR stamp style with an embedded Greek-capable font (subset on write)."""
    if not font_path.exists():
        raise ConfigurationError(
            f"the stamp font {font_path} does not exist; install the Debian package "
            "fonts-noto-core (a TrueType font covering Greek, with 1000 units per em)."
        )
    font = _InMemoryFontFactory(str(font_path), font_size=8)
    return QRStampStyle(
        stamp_text=text,
        text_box_style=TextBoxStyle(font=font, font_size=8, leading=10),
        border_width=1,
        background=None,
    )


class StampStyles:
    """One style per stamp text, built on first use (a style holds the parsed font)."""

    def __init__(self, font_path: Path = NOTO_SANS) -> None:
        self._font_path = Path(font_path)
        self._styles = {STAMP_TEXT: stamp_style(self._font_path)}

    def for_stamp(self, stamp: Stamp) -> QRStampStyle:
        """The style that draws ``stamp``'s text."""
        style = self._styles.get(stamp.text)
        if style is None:
            style = self._styles[stamp.text] = stamp_style(self._font_path, stamp.text)
        return style
