"""The demo PKI of ``make run``: a root CA, an e-seal and a TSA, all "DEMO — NOT QUALIFIED".

On first start :func:`ensure_demo_pki` generates the keys and a certomancer configuration
under a directory (``var/pki``); later starts load the same files and so rebuild the very
same certificates. :func:`serve_demo_pki` serves the demo TSA, OCSP responder and CRLs on
127.0.0.1 (a daemon thread), so documents are sealed at B-LT with no outside network::

    pki = ensure_demo_pki(Path("var/pki"))
    server = serve_demo_pki(pki)            # None if another process already serves it
    sealer = pki.sealer()                   # Sealer(Pkcs12Signer(...), level=B-LT, tsa_url=...)

Nothing here is fit for production: production settings point to a qualified TSA and a
PKCS#11 HSM or a CSC remote signing service.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import pem, x509

from signing.pki import CONFIG_FILE, LeafSpec, Pki, PkiNames, PkiServer, build_config, write_pki
from signing.sealer import PadesLevel, Sealer
from signing.signers import Pkcs12Signer

log = logging.getLogger(__name__)

DEFAULT_PORT = 8799
ARCH = "polis-demo"
SEAL_LABEL = "eseal"
NOT_QUALIFIED = "DEMO — NOT QUALIFIED"
DEMO_NAMES = PkiNames(
    organization=f"Polis {NOT_QUALIFIED}",
    country="GR",
    root=f"Polis Demo Root CA ({NOT_QUALIFIED})",
    intermediate=f"Polis Demo Issuing CA ({NOT_QUALIFIED})",
    tsa=f"Polis Demo Time-Stamping Authority ({NOT_QUALIFIED})",
    ocsp=f"Polis Demo OCSP Responder ({NOT_QUALIFIED})",
)


@dataclass(frozen=True)
class DemoPki:
    """Paths and URLs of a generated demo PKI."""

    directory: Path
    port: int
    tsa_url: str
    pkcs12_path: Path
    pkcs12_passphrase: bytes
    root_cert_path: Path

    def trust_roots(self) -> list[x509.Certificate]:
        """The demo root, to verify documents sealed with the demo seal."""
        data = self.root_cert_path.read_bytes()
        _, _, der = pem.unarmor(data)
        return [x509.Certificate.load(der)]

    def signer(self) -> Pkcs12Signer:
        """The demo e-seal as a PKCS#12 signer."""
        return Pkcs12Signer(self.pkcs12_path, self.pkcs12_passphrase)

    def sealer(self, level: PadesLevel = PadesLevel.B_LT) -> Sealer:
        """A sealer with the demo e-seal and the demo TSA (the server must be running for B-T+)."""
        return Sealer(self.signer(), level=level, tsa_url=self.tsa_url, trust_roots=self.trust_roots())


def _generate(directory: Path, port: int) -> None:
    staging = Path(tempfile.mkdtemp(prefix=".pki-", dir=directory.parent))
    try:
        config = build_config(
            url_prefix=f"http://127.0.0.1:{port}",
            arch=ARCH,
            names=DEMO_NAMES,
            leaves=[
                LeafSpec(
                    SEAL_LABEL,
                    f"Δήμος Polis — e-seal ({NOT_QUALIFIED})",
                    organizational_unit="Demo e-seal",
                )
            ],
        )
        write_pki(staging, config)
        pki = Pki.load(staging)
        passphrase = secrets.token_urlsafe(18).encode()
        (staging / "eseal.p12").write_bytes(pki.pkcs12(SEAL_LABEL, passphrase))
        (staging / "eseal.p12.passphrase").write_bytes(passphrase)
        (staging / "root.pem").write_bytes(pem.armor("CERTIFICATE", pki.cert("root").dump()))
        for path in staging.glob("eseal.p12*"):
            path.chmod(0o600)
        staging.rename(directory)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def ensure_demo_pki(directory: Path, port: int = DEFAULT_PORT) -> DemoPki:
    """Load the demo PKI under ``directory``, generating it on first use (safe across processes).

    The port is fixed at generation (it is written into the certificates); a later call
    with another port keeps the original one.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / f".{directory.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (directory / CONFIG_FILE).exists():
            log.info("generating the demo PKI in %s", directory)
            _generate(directory, port)
    pki = Pki.load(directory)
    actual_port = int(pki.url_prefix.rsplit(":", 1)[1].rstrip("/"))
    if actual_port != port:
        log.info(
            "the demo PKI in %s serves on port %d (fixed when it was generated)",
            directory,
            actual_port,
        )
    return DemoPki(
        directory=directory,
        port=actual_port,
        tsa_url=pki.tsa_url,
        pkcs12_path=directory / "eseal.p12",
        pkcs12_passphrase=(directory / "eseal.p12.passphrase").read_bytes(),
        root_cert_path=directory / "root.pem",
    )


def serve_demo_pki(demo: DemoPki) -> PkiServer | None:
    """Serve the demo TSA/OCSP/CRLs on 127.0.0.1; ``None`` if the port is already served.

    With several worker processes only the first binds the port; the others use it.
    """
    try:
        server = PkiServer(demo.port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            log.info("demo PKI port %d already in use; assuming another process serves it", demo.port)
            return None
        raise
    server.mount(Pki.load(demo.directory))
    return server.start()
