"""The external signer's exchange: a "to be signed" package out, a signature back in.

For an official who signs with a desktop signing app (their own smart card or token, out of
reach of a web server). :func:`to_be_signed` turns a :class:`PendingSignature` into a small
JSON document (base64 fields) the app can act on; the app answers with either

- the raw signature value over ``signed_attributes`` (``{"signature_value": ..., "certificate":
  ...}``, the certificate optional), or
- a detached CMS SignedData (``{"cms": ...}``), as apps that build their own signed attributes
  return. Its signed attributes must carry this document's byte-range hash and name the
  prepared certificate (ESS signing-certificate), or it is refused.

:func:`read_answer` checks either against the pending signature (document hash, certificate,
signature value); :func:`finish_external` then finishes that same pending signature (timestamp,
validation data), so a refused answer leaves the pending record as it was.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms, x509

from signing.errors import SignatureMismatch
from signing.two_step import PendingSignature, TwoStepSigning, check_signature_value

PACKAGE_FORMAT = "polis-to-be-signed/1"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise SignatureMismatch(f"the answer's {what} is missing; send it base64-encoded.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureMismatch(f"the answer's {what} is not valid base64.") from exc


def to_be_signed(pending: PendingSignature) -> dict[str, Any]:
    """The package handed to the signing app: what to sign and with which certificate."""
    cert = x509.Certificate.load(pending.signing_cert)
    algorithm = "ecdsa" if cert.public_key.algorithm == "ec" else "rsassa_pkcs1v15"
    return {
        "format": PACKAGE_FORMAT,
        "document_sha256": _b64(pending.document_digest),
        "signed_attributes": _b64(pending.signed_attributes),
        "digest_to_sign": _b64(pending.digest_to_sign),
        "digest_algorithm": "sha256",
        "signature_algorithm": algorithm,
        "signing_certificate": _b64(pending.signing_cert),
        "signer": cert.subject.human_friendly,
    }


@dataclass(frozen=True)
class ExternalAnswer:
    """A checked answer: the signed attributes actually signed and the signature value."""

    signed_attributes: bytes
    signature: bytes


def _attribute(attrs: cms.CMSAttributes, name: str) -> Any:
    for attr in attrs:
        if attr["type"].native == name:
            return attr["values"][0]
    return None


def _names_certificate(attrs: cms.CMSAttributes, cert: x509.Certificate) -> bool:
    v2 = _attribute(attrs, "signing_certificate_v2")
    if v2 is not None:
        for ess in v2["certs"]:
            algorithm = ess["hash_algorithm"]["algorithm"].native
            if hashlib.new(algorithm, cert.dump()).digest() == ess["cert_hash"].native:
                return True
        return False
    v1 = _attribute(attrs, "signing_certificate")
    if v1 is not None:
        return any(ess["cert_hash"].native == cert.sha1 for ess in v1["certs"])
    return False


def _from_cms(pending: PendingSignature, data: bytes, cert: x509.Certificate) -> ExternalAnswer:
    try:
        content = cms.ContentInfo.load(data)
        signed_data = content["content"]
        if content["content_type"].native != "signed_data":
            raise ValueError("not SignedData")
        (signer_info,) = list(signed_data["signer_infos"])
        attrs = signer_info["signed_attrs"]
        signature = signer_info["signature"].native
        certs = [c.chosen for c in signed_data["certificates"] if c.name == "certificate"]
        attrs.native  # noqa: B018 - asn1crypto parses lazily; force it now
    except (ValueError, TypeError, KeyError) as exc:
        raise SignatureMismatch(
            "the answer is not a CMS SignedData with one signer; send the detached CMS the "
            "signing app produced, or the raw signature value."
        ) from exc
    if certs and not any(c.dump() == cert.dump() for c in certs):
        raise SignatureMismatch(
            f"the CMS was made with another certificate than the one prepared "
            f"({cert.subject.human_friendly}); sign with that certificate or start the signing "
            "again with the new one."
        )
    digest = _attribute(attrs, "message_digest")
    if digest is None or digest.native != pending.document_digest:
        raise SignatureMismatch(
            "the returned signature does not match the document's hash (its message-digest "
            "attribute is for another document or version); download the package again and sign it."
        )
    if not _names_certificate(attrs, cert):
        raise SignatureMismatch(
            "the CMS does not name the signer's certificate in a signing-certificate attribute, "
            "which PAdES requires; configure the signing app for PAdES/CAdES baseline signatures."
        )
    # signed attributes are signed as a SET OF (universal tag), not as SignerInfo's [0] field
    signed_attributes = attrs.untag().dump()
    check_signature_value(cert, signed_attributes, signature)
    return ExternalAnswer(signed_attributes=signed_attributes, signature=signature)


def read_answer(pending: PendingSignature, answer: dict[str, Any] | str | bytes) -> ExternalAnswer:
    """Parse and check the signing app's answer against the pending signature."""
    if isinstance(answer, (str, bytes)):
        try:
            answer = json.loads(answer)
        except ValueError as exc:
            raise SignatureMismatch("the answer is not JSON; send the JSON the signing app wrote.") from exc
    if not isinstance(answer, dict):
        raise SignatureMismatch("the answer must be a JSON object with 'cms' or 'signature_value'.")
    cert = x509.Certificate.load(pending.signing_cert)
    if "cms" in answer:
        return _from_cms(pending, _unb64(answer["cms"], "cms"), cert)
    signature = _unb64(answer.get("signature_value"), "signature_value")
    if answer.get("certificate") is not None:
        returned = _unb64(answer["certificate"], "certificate")
        if returned != pending.signing_cert:
            try:
                other = x509.Certificate.load(returned).subject.human_friendly
            except ValueError:
                other = "an unreadable certificate"
            raise SignatureMismatch(
                f"the signature was made with another certificate ({other}) than the one "
                f"prepared ({cert.subject.human_friendly}); sign with that certificate or "
                "start the signing again with the new one."
            )
    check_signature_value(cert, pending.signed_attributes, signature)
    return ExternalAnswer(signed_attributes=pending.signed_attributes, signature=signature)


def finish_external(
    signing: TwoStepSigning, pending: PendingSignature, answer: dict[str, Any] | str | bytes
) -> bytes:
    """Check the app's answer and finish the same pending signature to the signing's level."""
    checked = read_answer(pending, answer)
    if checked.signed_attributes != pending.signed_attributes:
        pending = PendingSignature(
            prepared_pdf=pending.prepared_pdf,
            document_digest=pending.document_digest,
            reserved_region_start=pending.reserved_region_start,
            reserved_region_end=pending.reserved_region_end,
            signed_attributes=checked.signed_attributes,
            signing_cert=pending.signing_cert,
            chain=pending.chain,
            reserved_field=pending.reserved_field,
        )
    return signing.finish(pending, checked.signature)
