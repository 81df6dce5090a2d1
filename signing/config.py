"""Build the signer, the sealer and the trust roots that the settings describe.

Call these once per process and keep the results: the signer holds the loaded key or the
open token session. With ``POLIS_SIGNING_SIGNER=demo`` the demo PKI under ``var/pki`` is
generated on first use; whoever starts Polis serves it with
:func:`signing.demo_pki.serve_demo_pki` (see :func:`demo_pki_for`).
"""

from __future__ import annotations

from pathlib import Path

from asn1crypto import x509
from pyhanko.keys import load_certs_from_pemder

from core.errors import ConfigurationError
from core.settings import Settings
from signing.demo_pki import DemoPki, ensure_demo_pki, serve_demo_pki
from signing.errors import SignerConfigurationError
from signing.pki import PkiServer
from signing.remote_signers import CscSigner
from signing.sealer import PadesLevel, Sealer
from signing.signers import Pkcs11Signer, Pkcs12Signer, Signer
from signing.two_step import TwoStepSigning


def _paths(value: str | None) -> list[Path]:
    return [Path(part.strip()) for part in (value or "").split(",") if part.strip()]


def _secret(value: object) -> str | None:
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if getter is not None else None


def demo_pki_for(settings: Settings) -> DemoPki | None:
    """The demo PKI (generated on first call) when the demo signer is configured."""
    if settings.signing_signer != "demo":
        return None
    if settings.env == "production":
        raise ConfigurationError(
            "POLIS_SIGNING_SIGNER=demo seals with a NOT qualified demo certificate and is "
            "refused in production; set POLIS_SIGNING_SIGNER to pkcs11, csc or pkcs12."
        )
    return ensure_demo_pki(settings.var_dir / "pki", port=settings.signing_demo_pki_port)


def trust_roots_for(settings: Settings) -> list[x509.Certificate]:
    """The configured root certificates, plus the demo root with the demo signer."""
    roots: list[x509.Certificate] = []
    for path in _paths(settings.signing_trust_roots):
        try:
            roots.extend(load_certs_from_pemder([str(path)]))  # type: ignore[no-untyped-call]
        except (OSError, ValueError) as exc:
            raise SignerConfigurationError(
                f"cannot read the trust root {path} named in POLIS_SIGNING_TRUST_ROOTS: {exc}. "
                "Give PEM or DER certificate files, separated by commas."
            ) from exc
    demo = demo_pki_for(settings)
    if demo is not None:
        roots.extend(demo.trust_roots())
    return roots


def signer_for(settings: Settings) -> Signer:
    """The signer the settings name (validated by core.settings already)."""
    kind = settings.signing_signer
    if kind == "demo":
        demo = demo_pki_for(settings)
        assert demo is not None
        return demo.signer()
    if kind == "pkcs12":
        assert settings.signing_pkcs12_path is not None
        passphrase = _secret(settings.signing_pkcs12_passphrase)
        return Pkcs12Signer(
            settings.signing_pkcs12_path, passphrase.encode() if passphrase is not None else None
        )
    if kind == "pkcs11":
        assert settings.signing_pkcs11_module and settings.signing_pkcs11_token_label
        assert settings.signing_pkcs11_key_label
        return Pkcs11Signer(
            module=settings.signing_pkcs11_module,
            token_label=settings.signing_pkcs11_token_label,
            pin=_secret(settings.signing_pkcs11_pin) or "",
            key_label=settings.signing_pkcs11_key_label,
            cert_label=settings.signing_pkcs11_key_label,
            cert_file=settings.signing_pkcs11_cert_file,
            chain_files=_paths(settings.signing_chain_files),
        )
    assert settings.signing_csc_url and settings.signing_csc_credential_id
    return CscSigner(
        service_url=settings.signing_csc_url,
        credential_id=settings.signing_csc_credential_id,
        oauth_token=_secret(settings.signing_csc_token),
        pin=_secret(settings.signing_csc_pin),
        timeout=settings.signing_timeout_seconds,
    )


def sealer_for(settings: Settings) -> Sealer:
    """A sealer for issued documents, at the configured level, TSA and trust roots."""
    demo = demo_pki_for(settings)
    tsa_url = settings.signing_tsa_url or (demo.tsa_url if demo is not None else None)
    return Sealer(
        signer_for(settings),
        level=PadesLevel.parse(settings.signing_level),
        tsa_url=tsa_url,
        trust_roots=trust_roots_for(settings),
        timeout=settings.signing_timeout_seconds,
        location=settings.municipality_name,
    )


def start_demo_services(settings: Settings) -> PkiServer | None:
    """For ``polis run``: with the demo signer, generate var/pki if needed and serve its
    TSA/OCSP/CRLs on 127.0.0.1 (a daemon thread). ``None`` otherwise, or when another
    process (another worker) already serves them. Stop it with ``server.stop()``."""
    demo = demo_pki_for(settings)
    return serve_demo_pki(demo) if demo is not None else None


def official_signing_for(settings: Settings) -> TwoStepSigning:
    """Officials' qualified signatures (PAdES B-LT, QcType esign required) with the configured
    TSA and trust roots; their credential is theirs, not the organisation's seal."""
    demo = demo_pki_for(settings)
    tsa_url = settings.signing_tsa_url or (demo.tsa_url if demo is not None else None)
    return TwoStepSigning(
        level=PadesLevel.B_LT,
        tsa_url=tsa_url,
        trust_roots=trust_roots_for(settings),
        require_qualified="qct_esign",
        timeout=settings.signing_timeout_seconds,
    )
