"""The visible stamp: embedded Greek-capable font, placement, PDF/A-2b input kept intact."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from io import BytesIO

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from core.errors import ConfigurationError
from signing.sealer import PadesLevel, Sealer
from signing.signers import Signer
from signing.stamp import Stamp, StampPlacement, stamp_style
from signing.verify import Verdict, verify
from tests.signing.pkitools import TestPki, simple_pdf


def _widget(pdf: bytes, page: int) -> tuple[PdfFileReader, object]:
    reader = PdfFileReader(BytesIO(pdf))
    page_obj = reader.root["/Pages"]["/Kids"][page].get_object()
    (widget,) = [a.get_object() for a in page_obj["/Annots"] if a.get_object()["/Subtype"] == "/Widget"]
    return reader, widget


def test_stamp_embeds_a_greek_capable_font_where_the_template_says(
    pki: TestPki, signer_factory: Callable[[str], Signer]
) -> None:
    placement = StampPlacement(page=0, box=(40, 40, 320, 130))
    stamp = Stamp(
        "https://polis.example.gr/verify/QR1",
        "QR1",
        signer_name="Γραφείο Πρωτοκόλλου",
        placement=placement,
    )

    sealed = Sealer(signer_factory("pkcs12"), level=PadesLevel.B_B).seal(simple_pdf(pages=2), stamp)

    _, widget = _widget(sealed, 0)
    assert [int(n) for n in widget["/Rect"]] == [40, 40, 320, 130]  # type: ignore[index]
    assert int(widget["/F"]) & 4, "PDF/A needs printable annotations"  # type: ignore[index]
    fonts = widget["/AP"]["/N"]["/Resources"]["/Font"]  # type: ignore[index]
    (font,) = [f.get_object() for f in fonts.values()]
    assert "NotoSans" in str(font["/BaseFont"])
    descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
    assert "/FontFile2" in descriptor, "the font must be embedded"
    to_unicode = font["/ToUnicode"].data.upper()
    for letter in "ΨΓΠ":  # from the stamp text and the signer name
        assert f"{ord(letter):04X}".encode() in to_unicode


def test_stamp_on_last_page_by_default(pki: TestPki, signer_factory: Callable[[str], Signer]) -> None:
    sealed = Sealer(signer_factory("pkcs12"), level=PadesLevel.B_B).seal(
        simple_pdf(pages=3), Stamp("https://polis.example.gr/verify/X", "X")
    )

    _widget(sealed, 2)  # raises if the widget is not on the last page


def test_stamp_text_uses_athens_time() -> None:
    params = Stamp("u", "c").text_params(datetime(2026, 7, 1, 9, 30, tzinfo=UTC))

    assert params["when"] == "01/07/2026 12:30:00"  # EEST, UTC+3


def test_too_small_stamp_box_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="too small"):
        StampPlacement(box=(0, 0, 50, 20))


def test_missing_font_is_a_configuration_error(tmp_path: object) -> None:
    from pathlib import Path

    with pytest.raises(ConfigurationError, match="fonts-noto-core"):
        stamp_style(Path("/nonexistent/font.ttf"))


def test_pdfa_input_keeps_its_pdfa_identity(pki: TestPki, signer_factory: Callable[[str], Signer]) -> None:
    weasyprint = pytest.importorskip("weasyprint")
    with warnings.catch_warnings():
        # WeasyPrint leaves its sRGB ICC profile file open; not ours to fix
        warnings.simplefilter("ignore", ResourceWarning)
        original = weasyprint.HTML(
            string="<html lang='el'><body><h1>Βεβαίωση μόνιμης κατοικίας</h1></body></html>"
        ).write_pdf(pdf_variant="pdf/a-2b")
        gc.collect()

    sealed = Sealer(signer_factory("pkcs12"), level=PadesLevel.B_LT, tsa_url=pki.pki.tsa_url).seal(
        original, Stamp("https://polis.example.gr/verify/A2B", "A2B")
    )

    assert sealed.startswith(original), "incremental update: the PDF/A revision is untouched"
    reader = PdfFileReader(BytesIO(sealed))
    assert "/OutputIntents" in reader.root
    metadata = reader.root["/Metadata"].get_object().data
    assert b"pdfaid:part" in metadata and b"2" in metadata
    assert verify(sealed, [pki.root]).verdict is Verdict.VALID


def test_stamp_font_has_1000_units_per_em() -> None:
    from fontTools.ttLib import TTFont

    from signing.stamp import NOTO_SANS

    # pyHanko writes widths in font units assuming 1000/em; another size garbles the spacing
    assert TTFont(str(NOTO_SANS))["head"].unitsPerEm == 1000


def _drawn_letters(pdf: bytes, letters: str) -> set[str]:
    """Which of ``letters`` have outlines in the stamp's embedded font program."""
    from fontTools.ttLib import TTFont

    _, widget = _widget(pdf, 0)
    fonts = widget["/AP"]["/N"]["/Resources"]["/Font"]  # type: ignore[index]
    (font,) = [f.get_object() for f in fonts.values()]
    descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
    program = TTFont(BytesIO(descriptor["/FontFile2"].get_object().data))
    cmap = program.getBestCmap()
    glyf = program["glyf"]
    return {letter for letter in letters if ord(letter) in cmap and glyf[cmap[ord(letter)]].numberOfContours}


def test_each_stamp_embeds_the_glyphs_it_draws(pki: TestPki, signer_factory: Callable[[str], Signer]) -> None:
    """Font programs are cached by the glyphs a stamp draws: a stamp never gets another's."""
    sealer = Sealer(signer_factory("pkcs12"), level=PadesLevel.B_LT, tsa_url=pki.pki.tsa_url)
    placement = StampPlacement(page=0)
    first = sealer.seal(simple_pdf(), Stamp("https://p.example/verify/A", "A", "Ζωή Ξένου", placement))
    second = sealer.seal(simple_pdf(), Stamp("https://p.example/verify/B", "B", "Ηλίας Βλάχος", placement))
    again = sealer.seal(simple_pdf(), Stamp("https://p.example/verify/C", "C", "Ζωή Ξένου", placement))

    assert _drawn_letters(first, "ΖΞΗΒ") == {"Ζ", "Ξ"}
    assert _drawn_letters(second, "ΖΞΗΒ") == {"Η", "Β"}
    assert _drawn_letters(again, "ΖΞΗΒ") == {"Ζ", "Ξ"}
    for pdf in (first, second, again):
        assert verify(pdf, [pki.root]).verdict is Verdict.VALID
