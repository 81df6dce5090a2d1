"""Test helpers: a certomancer PKI on loopback, SoftHSM2 tokens, a CSC dummy server, PDFs."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from aiohttp import web
from asn1crypto import pem, x509
from csc_dummy.csc_dummy_server import CSCWithCertomancer, DummyServiceParams
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.content import RawContent
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PdfFileWriter

from signing.pki import LeafSpec, Pki, PkiNames, PkiServer, build_config, write_pki

SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
ARCH = "polis-test"
SPARE_TOKEN = "polis-spare"


@dataclass
class TestPki:
    """A running test PKI."""

    __test__ = False  # not a test class, despite its name

    pki: Pki
    server: PkiServer
    directory: Path

    @property
    def root(self) -> x509.Certificate:
        """The trust anchor."""
        return self.pki.cert("root")

    @property
    def root_pem(self) -> Path:
        """The root certificate as a PEM file (for openssl)."""
        path = self.directory / "root.pem"
        if not path.exists():
            path.write_bytes(pem.armor("CERTIFICATE", self.root.dump()))
        return path

    def p12(self, label: str, passphrase: bytes = b"test-pass") -> Path:
        """A PKCS#12 file for a leaf certificate."""
        path = self.directory / f"{label}.p12"
        if not path.exists():
            path.write_bytes(self.pki.pkcs12(label, passphrase))
        return path


def leaves(now: datetime) -> list[LeafSpec]:
    """The signer certificates the tests use."""
    return [
        LeafSpec("signer", "Δήμος Δοκιμών — σφραγίδα", organizational_unit="Δοκιμές"),
        LeafSpec("qualified", "Δήμος Δοκιμών — qualified seal", qualified=True),
        LeafSpec("revoked", "Revoked Signer", revoked_since=now - timedelta(days=2)),
        LeafSpec("revoked-later", "Signer Revoked Next Week", revoked_since=now + timedelta(days=7)),
        LeafSpec(
            "expired",
            "Expired Signer",
            valid_from=now - timedelta(days=800),
            valid_to=now - timedelta(days=1),
        ),
        LeafSpec("no-nr", "Signer Without Non-Repudiation", key_usage=("digital_signature",)),
        # officials: qualified certificates for electronic signatures (QcType esign)
        LeafSpec("official", "Μαρία Παπαδοπούλου", qualified=True, qc_type="qct_esign"),
        LeafSpec(
            "official-revoked",
            "Γιώργος Ανακληθείς",
            qualified=True,
            qc_type="qct_esign",
            revoked_since=now - timedelta(days=2),
        ),
        LeafSpec(
            "official-expired",
            "Ελένη Ληγμένη",
            qualified=True,
            qc_type="qct_esign",
            valid_from=now - timedelta(days=800),
            valid_to=now - timedelta(days=1),
        ),
    ]


@contextmanager
def running_pki() -> Iterator[TestPki]:
    """Generate a PKI in a temporary directory and serve it on a free loopback port."""
    directory = Path(tempfile.mkdtemp(prefix="polis-pki-"))
    server = PkiServer()
    try:
        now = datetime.now(UTC)
        write_pki(
            directory,
            build_config(url_prefix=server.url_prefix, arch=ARCH, names=PkiNames(), leaves=leaves(now)),
        )
        pki = Pki.load(directory)
        server.mount(pki)
        server.start()
        yield TestPki(pki, server, directory)
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class SoftHsmToken:
    """An initialised SoftHSM2 token holding the test signer's key and certificate."""

    label: str
    pin: str
    key_label: str


@contextmanager
def softhsm_token(test_pki: TestPki, cert_label: str = "signer") -> Iterator[SoftHsmToken]:
    """A fresh SoftHSM2 token (own config and token directory) with one key + certificate."""
    import pkcs11
    from pkcs11 import Attribute, CertificateType, ObjectClass

    directory = Path(tempfile.mkdtemp(prefix="polis-softhsm-"))
    (directory / "tokens").mkdir()
    conf = directory / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    token = SoftHsmToken(label="polis-test", pin="1234", key_label="seal")
    env = dict(os.environ)
    try:
        subprocess.run(
            [
                "softhsm2-util",
                "--init-token",
                "--free",
                "--label",
                token.label,
                "--pin",
                token.pin,
                "--so-pin",
                "5678",
            ],
            check=True,
            capture_output=True,
            env=env,
        )
        key_file = directory / "key.pem"
        key_file.write_bytes(test_pki.pki.private_key_pem(cert_label))
        subprocess.run(
            [
                "softhsm2-util",
                "--import",
                str(key_file),
                "--token",
                token.label,
                "--label",
                token.key_label,
                "--id",
                "01",
                "--pin",
                token.pin,
            ],
            check=True,
            capture_output=True,
            env=env,
        )
        key_file.unlink()
        # a second, empty token for PIN tests: PKCS#11 logins are per process and token, so
        # the first token is already logged in once a test signer has used it
        subprocess.run(
            [
                "softhsm2-util",
                "--init-token",
                "--free",
                "--label",
                SPARE_TOKEN,
                "--pin",
                token.pin,
                "--so-pin",
                "5678",
            ],
            check=True,
            capture_output=True,
            env=env,
        )
        # softhsm2-util cannot import certificates: create the object over PKCS#11
        lib = pkcs11.lib(str(SOFTHSM_MODULE))
        tok = lib.get_token(token_label=token.label)
        cert = test_pki.pki.cert(cert_label)
        with tok.open(user_pin=token.pin, rw=True) as session:
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.CERTIFICATE,
                    Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                    Attribute.TOKEN: True,
                    Attribute.LABEL: token.key_label,
                    Attribute.ID: b"\x01",
                    Attribute.VALUE: cert.dump(),
                    Attribute.SUBJECT: cert.subject.dump(),
                    Attribute.ISSUER: cert.issuer.dump(),
                    Attribute.SERIAL_NUMBER: cert["tbs_certificate"]["serial_number"].dump(),
                }
            )
        yield token
    finally:
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous
        shutil.rmtree(directory, ignore_errors=True)


def keep_service_keys_parsed() -> None:
    """Make this process's test services keep their private keys parsed, as real ones do.

    certomancer (TSA, OCSP) and certomancer-csc-dummy parse their key from DER for every
    signature they make, and ``load_der_private_key`` validates an RSA key each time: 36 ms
    for RSA-2048 with cryptography 50 (0.01 ms when skipped). A TSA, OCSP responder or
    remote-signing HSM in service keeps its key loaded. Only for a process that runs nothing
    but the services (the benchmark's service process): the parsed key objects are cached
    by their DER bytes, so Polis code in the same process would share them too.
    """
    from cryptography.hazmat.primitives import serialization

    load = serialization.load_der_private_key
    if getattr(load, "polis_cached", False):
        return
    parsed: dict[tuple[bytes, bytes | None, bool], object] = {}

    def load_der_private_key(
        data: bytes,
        password: bytes | None,
        backend: object = None,
        *,
        unsafe_skip_rsa_key_validation: bool = False,
    ) -> object:
        key = (bytes(data), password, unsafe_skip_rsa_key_validation)
        if key not in parsed:
            parsed[key] = load(data, password, unsafe_skip_rsa_key_validation=unsafe_skip_rsa_key_validation)
        return parsed[key]

    load_der_private_key.polis_cached = True  # type: ignore[attr-defined]
    serialization.load_der_private_key = load_der_private_key  # type: ignore[assignment]


@contextmanager
def csc_server(test_pki: TestPki, multisign: int = 50, delay: float = 0.0) -> Iterator[str]:
    """certomancer-csc-dummy on a free loopback port; yields the service URL.

    ``multisign``: signatures one authorisation may cover (the dummy's default is 10);
    ``delay``: seconds every answer is held back, as by a service across the internet.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    ready = threading.Event()
    with warnings.catch_warnings():
        # the dummy server (third-party test tool) keys its app config with plain strings
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        csc = CSCWithCertomancer(
            test_pki.pki.config,
            service_params=DummyServiceParams(hash_pinning_required=True, multisign=multisign),
        )
    csc.register_routes()
    if delay:

        @web.middleware
        async def distant(request: web.Request, handler: Any) -> web.StreamResponse:
            await asyncio.sleep(delay)
            return await handler(request)  # type: ignore[no-any-return]

        csc.app.middlewares.append(distant)
    runner = web.AppRunner(csc.app, access_log=None)
    loop = asyncio.new_event_loop()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.SockSite(runner, sock).start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, name="csc-dummy", daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def simple_pdf(pages: int = 1, text: str = "Polis test document") -> bytes:
    """A small unsigned PDF with a line of text per page."""
    writer = PdfFileWriter()
    font = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Font"),
            generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
            generic.NameObject("/BaseFont"): generic.NameObject("/Helvetica"),
        }
    )
    font_ref = writer.add_object(font)
    for number in range(pages):
        content = RawContent(f"BT /F1 14 Tf 72 760 Td ({text} {number + 1}) Tj ET".encode())
        stream = generic.StreamObject(stream_data=content.render())
        page = generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Page"),
                generic.NameObject("/MediaBox"): generic.ArrayObject(
                    [generic.NumberObject(n) for n in (0, 0, 595, 842)]
                ),
                generic.NameObject("/Contents"): writer.add_object(stream),
                generic.NameObject("/Resources"): generic.DictionaryObject(
                    {
                        generic.NameObject("/Font"): generic.DictionaryObject(
                            {generic.NameObject("/F1"): font_ref}
                        )
                    }
                ),
            }
        )
        writer.insert_page(page)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def openssl_verify_all(pdf: bytes, root_pem: Path) -> int:
    """Check every signature over its byte range with openssl, independently of pyHanko.

    Signatures go through ``openssl cms -verify``, document timestamps (B-LTA) through
    ``openssl ts -verify``. Returns how many were checked; fails with openssl's output.
    """
    reader = PdfFileReader(BytesIO(pdf))
    checked = 0
    with tempfile.TemporaryDirectory() as tmp:
        for embedded in reader.embedded_signatures:
            start1, len1, start2, len2 = (int(n) for n in embedded.byte_range)
            content = Path(tmp) / f"content{checked}.bin"
            content.write_bytes(pdf[start1 : start1 + len1] + pdf[start2 : start2 + len2])
            cms_file = Path(tmp) / f"sig{checked}.der"
            cms_file.write_bytes(embedded.pkcs7_content)
            if embedded.sig_object_type == "/DocTimeStamp":
                command = [
                    "openssl",
                    "ts",
                    "-verify",
                    "-data",
                    str(content),
                    "-in",
                    str(cms_file),
                    "-token_in",
                    "-CAfile",
                    str(root_pem),
                ]
            else:
                command = [
                    "openssl",
                    "cms",
                    "-verify",
                    "-binary",
                    "-inform",
                    "DER",
                    "-in",
                    str(cms_file),
                    "-content",
                    str(content),
                    "-CAfile",
                    str(root_pem),
                    "-purpose",
                    "any",
                    "-out",
                    os.devnull,
                ]
            result = subprocess.run(command, capture_output=True, text=True)
            assert result.returncode == 0, f"openssl rejected {embedded.field_name}: {result.stderr}"
            checked += 1
    return checked


def encrypted_pdf() -> bytes:
    """A password-protected PDF."""
    writer = PdfFileWriter()
    writer.insert_page(
        generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Page"),
                generic.NameObject("/MediaBox"): generic.ArrayObject(
                    [generic.NumberObject(n) for n in (0, 0, 595, 842)]
                ),
            }
        )
    )
    writer.encrypt("owner-secret", "user-secret")
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_with_fake_signatures(count: int) -> bytes:
    """A PDF whose AcroForm holds ``count`` filled signature fields with garbage CMS."""
    writer = PdfFileWriter()
    page_ref = writer.insert_page(
        generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Page"),
                generic.NameObject("/MediaBox"): generic.ArrayObject(
                    [generic.NumberObject(n) for n in (0, 0, 595, 842)]
                ),
            }
        )
    )
    del page_ref
    fields_array = generic.ArrayObject()
    for number in range(count):
        sig = generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Sig"),
                generic.NameObject("/Filter"): generic.NameObject("/Adobe.PPKLite"),
                generic.NameObject("/SubFilter"): generic.NameObject("/ETSI.CAdES.detached"),
                generic.NameObject("/ByteRange"): generic.ArrayObject(
                    [generic.NumberObject(n) for n in (0, 10, 20, 10)]
                ),
                generic.NameObject("/Contents"): generic.ByteStringObject(b"\x30\x03\x02\x01\x00"),
            }
        )
        field = generic.DictionaryObject(
            {
                generic.NameObject("/FT"): generic.NameObject("/Sig"),
                generic.NameObject("/T"): generic.TextStringObject(f"Fake{number}"),
                generic.NameObject("/V"): writer.add_object(sig),
            }
        )
        fields_array.append(writer.add_object(field))
    writer.root[generic.NameObject("/AcroForm")] = generic.DictionaryObject(
        {generic.NameObject("/Fields"): fields_array}
    )
    out = BytesIO()
    writer.write(out)
    return out.getvalue()
