"""Case files (φάκελος) for archiving: every document, version, assignment, protocol entry and
audit event of a request case or an incoming document, exported as a ZIP with a manifest.

Sits above the domains it collects from: imports engine.workflow, engine.requests,
engine.issuing, engine.protocol, engine.documents, engine.people, storage and core.
"""
