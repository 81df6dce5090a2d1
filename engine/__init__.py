"""The engine: the BPMN runtime (engine.workflow) and one package per municipal domain beside it
(people, protocol, requests, issuing, notifications, casework). Imports forms, signing, storage
and core, never web or cli; engine.domains plugs the domains into the runtime.
"""
