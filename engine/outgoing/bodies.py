"""The body of a draft: an uploaded PDF, DOCX or ODT checked by its bytes and opened, or text
written in the page and printed from the document type's template; text extracted for diffs.

The signed PDF is the uploaded PDF itself, or — for DOCX/ODT, which no converter on the server
can print faithfully — the type's template printed with the office file's text, paragraph by
paragraph. The author sees that PDF before submitting it (``signable_pdf``).
"""

from __future__ import annotations

import io
import subprocess
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import jinja2
from defusedxml import ElementTree
from jinja2.sandbox import ImmutableSandboxedEnvironment

from core.clock import ATHENS
from engine.outgoing.errors import BodyInvalid

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
#: Largest body accepted, and largest an office file may unpack to (zip bombs).
MAX_BODY_BYTES = 20 * 1024 * 1024
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
TEMPLATES = Path(__file__).parent / "templates"
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"


@dataclass(frozen=True)
class Body:
    """A checked body file: what it is and its text."""

    media_type: str
    text: str


def check_body(data: bytes, filename: str) -> Body:
    """What ``data`` is (by its bytes, not its name), opened to prove it; else BodyInvalid."""
    if not data:
        raise BodyInvalid(f"{filename}: the file is empty; choose the document's file again.", reason="empty")
    if len(data) > MAX_BODY_BYTES:
        raise BodyInvalid(f"{filename}: larger than {MAX_BODY_BYTES // 1048576} MB.", reason="too_large")
    if data.startswith(b"%PDF-"):
        return Body(PDF, _pdf_text(data, filename))
    if data.startswith(b"PK\x03\x04"):
        return _office(data, filename)
    raise BodyInvalid(
        f"{filename}: not a PDF, DOCX or ODT file (its contents say otherwise, whatever its name);"
        " save the document as one of these and upload it again.",
        reason="type",
    )


def _pdf_text(data: bytes, filename: str) -> str:
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        if reader.security_handler is not None:
            raise BodyInvalid(
                f"{filename}: the PDF is encrypted; save it without a password.", reason="encrypted"
            )
        pages = int(reader.root["/Pages"]["/Count"])
    except BodyInvalid:
        raise
    except (PdfError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise BodyInvalid(f"{filename}: the PDF is damaged and does not open ({exc}).") from None
    if pages < 1:
        raise BodyInvalid(f"{filename}: the PDF has no pages.")
    try:
        done = subprocess.run(
            ["pdftotext", "-layout", "-enc", "UTF-8", "-", "-"],
            input=data,
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""  # the text is for comparing versions only; the file itself is valid
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else ""


def _office(data: bytes, filename: str) -> Body:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = set(archive.namelist())
        if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED_BYTES:
            raise BodyInvalid(f"{filename}: the file unpacks to more than 100 MB; it is refused.")
        if "word/document.xml" in names:
            root = ElementTree.fromstring(archive.read("word/document.xml"))
            paragraphs = ["".join(t.text or "" for t in p.iter(f"{_W}t")) for p in root.iter(f"{_W}p")]
            return Body(DOCX, "\n".join(paragraphs))
        if (
            "mimetype" in names
            and archive.read("mimetype").strip() == ODT.encode()
            and "content.xml" in names
        ):
            root = ElementTree.fromstring(archive.read("content.xml"))
            paragraphs = [
                "".join(element.itertext())
                for element in root.iter()
                if element.tag in (f"{{{_ODF_TEXT}}}p", f"{{{_ODF_TEXT}}}h")
            ]
            return Body(ODT, "\n".join(paragraphs))
    except BodyInvalid:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, ElementTree.ParseError) as exc:
        raise BodyInvalid(f"{filename}: the office file is damaged and does not open ({exc}).") from None
    raise BodyInvalid(
        f"{filename}: a zip file, but neither a Word (DOCX) nor an OpenDocument (ODT) text;"
        " save the document as DOCX, ODT or PDF.",
        reason="type",
    )


_environment = ImmutableSandboxedEnvironment(
    loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
)


@dataclass(frozen=True)
class Letterhead:
    """What the printed body shows besides the text."""

    kind: str
    subject: str
    author_unit: str
    recipients: tuple[str, ...]
    copies: tuple[str, ...]
    related: tuple[str, ...]
    signatory_name: str
    signatory_title: str
    municipality: str = "Δήμος"


def render_pdf(head: Letterhead, text: str, *, when: datetime | None = None) -> bytes:
    """Print the body text with the type's template (Greek, A4), room left for the two stamps."""
    from weasyprint import HTML  # imported late: loading Pango costs ~0.3 s at start

    template = _environment.get_template(f"{head.kind}.html")
    html = template.render(
        head=head,
        paragraphs=text.replace("\r\n", "\n").split("\n"),
        date=(when or datetime.now(ATHENS)).astimezone(ATHENS).strftime("%d/%m/%Y"),
    )
    pdf: bytes = HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
    return pdf


def starting_text(kind: str) -> str:
    """What the page offers to start from for a body written from the type's template."""
    return (TEMPLATES / f"{kind}.txt").read_text(encoding="utf-8")
