"""PAdES seals and signatures with pyHanko: bytes in, signed bytes out, no knowledge of cases.

Entry points:

- ``signing.config.sealer_for(settings)`` → :class:`signing.sealer.Sealer` (build once per
  process); ``sealer.seal(pdf, stamp)`` / ``sealer.seal_many([...])``.
- Signers (``signing.signers.Signer`` protocol): ``Pkcs12Signer``, ``Pkcs11Signer``,
  ``signing.remote_signers.CscSigner`` and ``ExternalDigestSigner`` (hash out, signature
  in, through a callback); ``signing.two_step.TwoStepSigning`` when the signature comes
  back later (an official's card); ``signing.csc.sign_remotely`` (an official's CSC remote
  signature, N documents per authorisation) and ``signing.external`` (the to-be-signed package
  for a desktop signing app, and its answer).
- ``signing.stamp.Stamp`` / ``StampPlacement``: the visible stamp with its QR code.
- ``signing.verify.verify(pdf, trust_roots)`` → ``VerificationReport``; never raises.
- ``signing.demo_pki``: the "DEMO — NOT QUALIFIED" PKI of ``make run``;
  ``signing.config.start_demo_services(settings)`` serves its TSA/OCSP/CRLs on 127.0.0.1.
"""
