"""A small certomancer-based PKI (root, intermediate, leaf certificates, TSA, OCSP, CRL).

Used for the demo PKI of ``make run`` and by the tests and benchmarks. The configuration
and the keys are written to a directory once; certomancer rebuilds the very same
certificates from them on every start (RSA PKCS#1 v1.5 signatures are deterministic),
so a document sealed yesterday still chains to today's root.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from asn1crypto import x509
from certomancer.integrations.animator import Animator, AnimatorArchStore
from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig, PKIArchitecture
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# Importing registers the qcStatements extension with asn1crypto, so certomancer can
# encode QC statements for "qualified" test certificates.
from pyhanko.sign.ades import qualified_asn1  # noqa: F401
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

CONFIG_FILE = "certomancer.yml"
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass(frozen=True)
class LeafSpec:
    """One end-entity (signer) certificate issued by the intermediate CA."""

    label: str
    common_name: str
    key_usage: tuple[str, ...] = ("digital_signature", "non_repudiation")
    valid_from: datetime = LONG_AGO
    valid_to: datetime = field(default_factory=lambda: datetime.now(UTC) + timedelta(days=3650))
    revoked_since: datetime | None = None
    qualified: bool = False  # adds QcCompliance, QcSSCD and QcType (qc_type)
    qc_type: str = "qct_eseal"  # or "qct_esign" for a natural person's signature
    organizational_unit: str | None = None


@dataclass(frozen=True)
class PkiNames:
    """The human-readable names written into the certificates."""

    organization: str = "Polis test PKI"
    country: str = "GR"
    root: str = "Polis Test Root CA"
    intermediate: str = "Polis Test Issuing CA"
    tsa: str = "Polis Test Time-Stamping Authority"
    ocsp: str = "Polis Test OCSP Responder"


def _rsa_key_pem(bits: int = 2048) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _key_usage(*usages: str) -> dict[str, Any]:
    return {
        "id": "key_usage",
        "critical": True,
        "smart-value": {"schema": "key-usage", "params": list(usages)},
    }


def _revocation_pointers(issuer: str) -> list[dict[str, Any]]:
    return [
        {
            "id": "crl_distribution_points",
            "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": [issuer]}},
        },
        {
            "id": "authority_information_access",
            "smart-value": {"schema": "aia-urls", "params": {"ocsp-responder-names": [issuer]}},
        },
    ]


def _qc_statements(qc_type: str) -> dict[str, Any]:
    return {
        "id": "qc_statements",
        "value": [
            {"statement_id": "qc_compliance"},
            {"statement_id": "qc_sscd"},
            {"statement_id": "qc_type", "statement_info": [qc_type]},
        ],
    }


def build_config(
    *, url_prefix: str, arch: str, names: PkiNames, leaves: Iterable[LeafSpec]
) -> dict[str, Any]:
    """Return a certomancer configuration (as a dict) for root → intermediate → leaves."""
    far = _iso(datetime.now(UTC) + timedelta(days=365 * 30))
    start = _iso(LONG_AGO)
    leaves = list(leaves)
    key_labels = ["root", "interm", "tsa", "ocsp"] + [leaf.label for leaf in leaves]
    entities: dict[str, dict[str, str]] = {
        "root": {"common-name": names.root},
        "interm": {"common-name": names.intermediate},
        "tsa": {"common-name": names.tsa},
        "ocsp": {"common-name": names.ocsp},
    }
    certs: dict[str, dict[str, Any]] = {
        "root": {
            "subject": "root",
            "issuer": "root",
            "validity": {"valid-from": start, "valid-to": far},
            "extensions": [
                {"id": "basic_constraints", "critical": True, "value": {"ca": True}},
                _key_usage("digital_signature", "key_cert_sign", "crl_sign"),
            ],
        },
        "interm": {
            "issuer": "root",
            "validity": {"valid-from": start, "valid-to": far},
            "extensions": [
                {
                    "id": "basic_constraints",
                    "critical": True,
                    "value": {"ca": True, "path-len-constraint": 0},
                },
                _key_usage("digital_signature", "key_cert_sign", "crl_sign"),
                {
                    "id": "crl_distribution_points",
                    "smart-value": {
                        "schema": "crl-dist-url",
                        "params": {"crl-repo-names": ["root"]},
                    },
                },
            ],
        },
        "ocsp": {
            "issuer": "interm",
            "validity": {"valid-from": start, "valid-to": far},
            "extensions": [
                _key_usage("digital_signature"),
                {"id": "extended_key_usage", "critical": True, "value": ["ocsp_signing"]},
                {"id": "ocsp_no_check"},
            ],
        },
        "tsa": {
            "issuer": "root",
            "validity": {"valid-from": start, "valid-to": far},
            "extensions": [
                _key_usage("digital_signature"),
                {"id": "extended_key_usage", "critical": True, "value": ["time_stamping"]},
                {
                    "id": "crl_distribution_points",
                    "smart-value": {
                        "schema": "crl-dist-url",
                        "params": {"crl-repo-names": ["root"]},
                    },
                },
            ],
        },
    }
    for leaf in leaves:
        entity: dict[str, str] = {"common-name": leaf.common_name}
        if leaf.organizational_unit:
            entity["organizational-unit-name"] = leaf.organizational_unit
        entities[leaf.label] = entity
        extensions = [_key_usage(*leaf.key_usage), *_revocation_pointers("interm")]
        if leaf.qualified:
            extensions.append(_qc_statements(leaf.qc_type))
        spec: dict[str, Any] = {
            "issuer": "interm",
            "validity": {"valid-from": _iso(leaf.valid_from), "valid-to": _iso(leaf.valid_to)},
            "extensions": extensions,
        }
        if leaf.revoked_since is not None:
            spec["revocation"] = {
                "revoked-since": _iso(leaf.revoked_since),
                "reason": "key_compromise",
            }
        certs[leaf.label] = spec
    return {
        "external-url-prefix": url_prefix,
        "keysets": {
            arch: {
                "path-prefix": "keys",
                "keys": {label: {"path": f"{label}.key.pem"} for label in key_labels},
            }
        },
        "pki-architectures": {
            arch: {
                "keyset": arch,
                "entity-defaults": {
                    "country-name": names.country,
                    "organization-name": names.organization,
                },
                "entities": entities,
                "certs": certs,
                "services": {
                    "ocsp": {
                        "interm": {
                            "for-issuer": "interm",
                            "responder-cert": "ocsp",
                            "signing-key": "ocsp",
                        }
                    },
                    "crl-repo": {
                        "root": {
                            "for-issuer": "root",
                            "signing-key": "root",
                            "simulated-update-schedule": "P30D",
                        },
                        "interm": {
                            "for-issuer": "interm",
                            "signing-key": "interm",
                            "simulated-update-schedule": "P7D",
                        },
                    },
                    "time-stamping": {"tsa": {"signing-key": "tsa", "signing-cert": "tsa"}},
                },
            }
        },
    }


def write_pki(directory: Path, config: dict[str, Any]) -> None:
    """Write the configuration and generate any missing RSA-2048 key under ``directory``."""
    keys_dir = directory / "keys"
    keys_dir.mkdir(parents=True, exist_ok=True)
    for keyset in config["keysets"].values():
        for key in keyset["keys"].values():
            path = keys_dir / key["path"]
            if not path.exists():
                path.write_bytes(_rsa_key_pem())
                path.chmod(0o600)
    (directory / CONFIG_FILE).write_text(yaml.safe_dump(config, sort_keys=False), "utf-8")


@dataclass
class Pki:
    """A loaded PKI architecture and the URLs of its services."""

    directory: Path
    config: CertomancerConfig
    arch_label: str

    @classmethod
    def load(cls, directory: Path) -> Pki:
        """Load a PKI written by :func:`write_pki`."""
        config = CertomancerConfig.from_file(str(directory / CONFIG_FILE))
        (arch_label,) = config.pki_archs.keys()
        return cls(directory=directory, config=config, arch_label=str(arch_label))

    @property
    def arch(self) -> PKIArchitecture:
        """The certomancer architecture."""
        return self.config.get_pki_arch(ArchLabel(self.arch_label))

    @property
    def url_prefix(self) -> str:
        """Where the services must be served (written into the certificates)."""
        return str(self.config.external_url_prefix)

    def cert(self, label: str) -> x509.Certificate:
        """A certificate by its label (``root``, ``interm``, ``tsa``, a leaf label...)."""
        return self.arch.get_cert(CertLabel(label))

    def chain(self, label: str) -> list[x509.Certificate]:
        """The issuing chain of a certificate, without the certificate itself."""
        return [self.arch.get_cert(c) for c in self.arch.get_chain(CertLabel(label))]

    def pkcs12(self, label: str, password: bytes | None) -> bytes:
        """The key and certificate (with its chain) as a PKCS#12 file."""
        data: bytes = self.arch.package_pkcs12(CertLabel(label), password=password)
        return data

    def private_key_pem(self, label: str) -> bytes:
        """The PEM private key behind a certificate (for importing into an HSM)."""
        key_label = self.arch.get_cert_spec(CertLabel(label)).subject_key
        return (self.directory / "keys" / f"{key_label}.key.pem").read_bytes()

    @property
    def tsa_url(self) -> str:
        """The RFC 3161 endpoint of the PKI's time-stamping authority."""
        return f"{self.url_prefix}/{self.arch_label}/tsa/tsa"


class _QuietHandler(WSGIRequestHandler):
    """Keeps the per-request access log out of the application's output."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class PkiServer:
    """Serves a PKI's TSA, OCSP responder, CRLs and certificates on 127.0.0.1.

    The socket is bound at construction, so the port is known before the PKI (whose
    certificates embed the URLs) is generated. For tests, ``down`` names the services
    that answer 503 (``"tsa"``, ``"ocsp"``, ``"crls"``, ``"certs"``), ``outage`` switches
    them all off, ``garbage_tsa`` makes the TSA answer nonsense, and ``delay`` (seconds)
    holds every answer back as a distant service would (benchmarks).
    """

    SERVICES = frozenset({"tsa", "ocsp", "crls", "certs"})

    def __init__(self, port: int = 0) -> None:
        if port:
            # probe first: werkzeug prints a message and exits when the port is taken
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(("127.0.0.1", port))
        try:
            self._server: BaseWSGIServer = make_server(
                "127.0.0.1", port, self._wsgi, threaded=True, request_handler=_QuietHandler
            )
        except SystemExit as exc:  # werkzeug exits the process when the port is taken
            raise OSError(errno.EADDRINUSE, f"port {port} on 127.0.0.1 is already in use") from exc
        self.port: int = self._server.port
        self._animator: Animator | None = None
        self._thread: threading.Thread | None = None
        self.down: set[str] = set()
        self.garbage_tsa = False
        self.delay = 0.0

    @property
    def outage(self) -> bool:
        """True when every service is switched off."""
        return self.down >= self.SERVICES

    @outage.setter
    def outage(self, value: bool) -> None:
        self.down = set(self.SERVICES) if value else set()

    @property
    def url_prefix(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def mount(self, pki: Pki) -> None:
        """Serve this PKI (its URL prefix must be this server's)."""
        if pki.url_prefix.rstrip("/") != self.url_prefix:
            raise ValueError(
                f"the PKI in {pki.directory} expects its services at {pki.url_prefix}, "
                f"but this server listens on {self.url_prefix}"
            )
        self._animator = Animator(AnimatorArchStore(pki.config.pki_archs), with_web_ui=False)

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        if self.delay:
            time.sleep(self.delay)
        request = Request(environ)
        parts = request.path.strip("/").split("/")
        service = parts[1] if len(parts) > 1 else ""
        response: Any
        if service in self.down or self._animator is None:
            response = Response("service switched off", status=503)
        elif self.garbage_tsa and service == "tsa":
            response = Response(b"\x30\x03garbage", mimetype="application/timestamp-reply")
        else:
            return self._animator(environ, start_response)  # type: ignore[no-any-return]
        return response(environ, start_response)  # type: ignore[no-any-return]

    def start(self) -> PkiServer:
        """Start serving in a daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"pki-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
