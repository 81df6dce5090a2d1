"""Interrupted (two-step) signing: hash out now, signature in later.

For an official who signs on their own smart card or through a provider's hash-signing
API, possibly minutes later and in another process::

    signing = TwoStepSigning(level=PadesLevel.B_LT, tsa_url=..., trust_roots=[...])
    pending = signing.begin(pdf, official_cert, chain, stamp)
    store(pending.to_dict())                         # JSON-safe; holds no secret
    ... send pending.digest_to_sign (SHA-256) to the card / API, get the raw signature ...
    signed_pdf = signing.finish(PendingSignature.from_dict(stored), signature)

``finish`` checks the returned signature against the certificate before embedding it, so
a wrong card or a corrupted answer is refused and no broken document is produced. The
timestamp and the validation data (B-T and above) are added in ``finish``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

import aiohttp
from asn1crypto import cms, x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko.sign.validation.dss import async_add_validation_info
from pyhanko_certvalidator.registry import SimpleCertificateStore

from core.errors import ConfigurationError, InvalidInput, PolisError
from signing.sealer import (
    PadesLevel,
    StrictTimeStamper,
    check_certificate,
    open_pdf,
    run_coroutine,
    signing_validation_context,
    translate_signing_error,
)
from signing.stamp import NOTO_SANS, Stamp, stamp_style


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class PendingSignature:
    """A document prepared for signing, waiting for the signature of :attr:`digest_to_sign`."""

    prepared_pdf: bytes
    document_digest: bytes
    reserved_region_start: int
    reserved_region_end: int
    signed_attributes: bytes
    signing_cert: bytes
    chain: tuple[bytes, ...]

    @property
    def digest_to_sign(self) -> bytes:
        """SHA-256 of the CMS signed attributes: what the card or the API signs."""
        return hashlib.sha256(self.signed_attributes).digest()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form to keep between the two steps."""
        return {
            "prepared_pdf": _b64(self.prepared_pdf),
            "document_digest": _b64(self.document_digest),
            "reserved_region": [self.reserved_region_start, self.reserved_region_end],
            "signed_attributes": _b64(self.signed_attributes),
            "signing_cert": _b64(self.signing_cert),
            "chain": [_b64(c) for c in self.chain],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PendingSignature:
        """Rebuild from :meth:`to_dict` output."""
        try:
            start, end = data["reserved_region"]
            return cls(
                prepared_pdf=base64.b64decode(data["prepared_pdf"]),
                document_digest=base64.b64decode(data["document_digest"]),
                reserved_region_start=int(start),
                reserved_region_end=int(end),
                signed_attributes=base64.b64decode(data["signed_attributes"]),
                signing_cert=base64.b64decode(data["signing_cert"]),
                chain=tuple(base64.b64decode(c) for c in data["chain"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(
                "the pending signature record is incomplete or damaged; start the signing again."
            ) from exc


def _check_signature_value(cert: x509.Certificate, signed_attributes: bytes, signature: bytes) -> None:
    public_key = serialization.load_der_public_key(cert.public_key.dump())
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, signed_attributes, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, signed_attributes, ec.ECDSA(hashes.SHA256()))
        else:
            raise InvalidInput("only RSA and ECDSA signer certificates are supported.")
    except InvalidSignature as exc:
        raise InvalidInput(
            "the signature returned does not match the certificate and the document; sign "
            "the digest again with the key of this certificate."
        ) from exc


class TwoStepSigning:
    """Prepares documents for an external signature and completes them to a PAdES level."""

    def __init__(
        self,
        *,
        level: PadesLevel = PadesLevel.B_LT,
        tsa_url: str | None = None,
        trust_roots: Sequence[x509.Certificate] = (),
        timeout: float = 10.0,
        font_path: Any = NOTO_SANS,
    ) -> None:
        if level.rank >= PadesLevel.B_T.rank and not tsa_url:
            raise ConfigurationError(
                f"PAdES {level.value} needs a time-stamping authority; set POLIS_SIGNING_TSA_URL "
                "or choose level B-B."
            )
        self.level = level
        self.tsa_url = tsa_url
        self.timeout = timeout
        self._trust_roots = list(trust_roots)
        self._style = stamp_style(font_path)

    def begin(
        self,
        pdf: bytes,
        signing_cert: x509.Certificate,
        chain: Sequence[x509.Certificate],
        stamp: Stamp | None = None,
    ) -> PendingSignature:
        """Prepare the document and the attributes to sign; nothing leaves this process."""
        open_pdf(pdf)
        check_certificate(signing_cert, datetime.now(UTC))
        try:
            return run_coroutine(self._begin(pdf, signing_cert, list(chain), stamp))
        except PolisError:
            raise
        except Exception as exc:  # every failure becomes a Polis error
            raise translate_signing_error(exc, tsa_url=self.tsa_url) from exc

    async def _begin(
        self, pdf: bytes, cert: x509.Certificate, chain: list[x509.Certificate], stamp: Stamp | None
    ) -> PendingSignature:
        registry = SimpleCertificateStore.from_certs([cert, *chain])  # type: ignore[no-untyped-call]
        placeholder = signers.ExternalSigner(cert, registry, signature_value=512)
        writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
        existing = {name for name, _, _ in fields.enumerate_sig_fields(writer.prev)}
        number = len(existing) + 1
        while f"PolisSignature{number}" in existing:
            number += 1
        field_name = f"PolisSignature{number}"
        field_spec = None
        text_params = None
        if stamp is not None:
            field_spec = fields.SigFieldSpec(
                sig_field_name=field_name, on_page=stamp.placement.page, box=stamp.placement.box
            )
            text_params = stamp.text_params(datetime.now(UTC))
        pdf_signer = signers.PdfSigner(
            signers.PdfSignatureMetadata(
                field_name=field_name, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES
            ),
            placeholder,
            stamp_style=self._style if stamp is not None else None,
            new_field_spec=field_spec,
        )
        certs_size = len(cert.dump()) + sum(len(c.dump()) for c in chain)
        prepared, _, output = await pdf_signer.async_digest_doc_for_signing(
            writer, bytes_reserved=2 * certs_size + 4096 + 12288, appearance_text_params=text_params
        )
        attributes = await placeholder.signed_attrs(prepared.document_digest, "sha256", use_pades=True)
        output.seek(0)
        prepared_pdf = output.read()
        return PendingSignature(
            prepared_pdf=prepared_pdf,
            document_digest=prepared.document_digest,
            reserved_region_start=prepared.reserved_region_start,
            reserved_region_end=prepared.reserved_region_end,
            signed_attributes=attributes.dump(),
            signing_cert=cert.dump(),
            chain=tuple(c.dump() for c in chain),
        )

    def finish(self, pending: PendingSignature, signature: bytes) -> bytes:
        """Embed the external signature, then add timestamp and validation data per level."""
        cert = x509.Certificate.load(pending.signing_cert)
        _check_signature_value(cert, pending.signed_attributes, signature)
        try:
            return run_coroutine(self._finish(pending, cert, signature))
        except PolisError:
            raise
        except Exception as exc:  # every failure becomes a Polis error
            raise translate_signing_error(exc, tsa_url=self.tsa_url) from exc

    async def _finish(self, pending: PendingSignature, cert: x509.Certificate, signature: bytes) -> bytes:
        chain = [x509.Certificate.load(c) for c in pending.chain]
        registry = SimpleCertificateStore.from_certs([cert, *chain])  # type: ignore[no-untyped-call]
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            timestamper = (
                StrictTimeStamper(self.tsa_url, timeout=int(self.timeout), session=http)
                if self.tsa_url and self.level.rank >= PadesLevel.B_T.rank
                else None
            )
            signer = signers.ExternalSigner(cert, registry, signature_value=signature)
            signed_cms = await signer.async_sign_prescribed_attributes(
                "sha256",
                signed_attrs=cms.CMSAttributes.load(pending.signed_attributes),
                timestamper=timestamper,
            )
            output = BytesIO(pending.prepared_pdf)
            await PdfTBSDocument.async_finish_signing(
                output,
                PreparedByteRangeDigest(
                    document_digest=pending.document_digest,
                    reserved_region_start=pending.reserved_region_start,
                    reserved_region_end=pending.reserved_region_end,
                ),
                signed_cms,
            )
            if self.level.rank < PadesLevel.B_LT.rank:
                return output.getvalue()
            roots = self._trust_roots or [c for c in chain if c.self_signed in ("maybe", "yes")]
            context = signing_validation_context(roots, chain, http, self.timeout)
            embedded = PdfFileReader(BytesIO(output.getvalue())).embedded_signatures[-1]
            with_dss = await async_add_validation_info(embedded, context, output=BytesIO())
            if self.level is PadesLevel.B_LT:
                result: bytes = with_dss.getvalue()
                return result
            assert timestamper is not None
            stamped = await signers.PdfTimeStamper(timestamper).async_timestamp_pdf(
                IncrementalPdfFileWriter(BytesIO(with_dss.getvalue())),
                "sha256",
                validation_context=context,
                output=BytesIO(),
            )
            final: bytes = stamped.getvalue()
            return final
