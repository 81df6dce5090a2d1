"""Imports every models module so that ``Base.metadata`` knows every table.

migrations/env.py and the migration tests import this; a new models module is added here.
"""

import core.ratelimits  # noqa: F401
import engine.administration.org_file
import engine.administration.services
import engine.audit_anchors
import engine.casework.rescued_forms
import engine.casework.saved_views
import engine.documents.models
import engine.issuing.registry
import engine.notifications.models
import engine.outgoing.models
import engine.people.admin_audit
import engine.people.applicants.models
import engine.people.models
import engine.people.tokens
import engine.protocol.models
import engine.requests.challenge
import engine.requests.models
import engine.workflow.index_versions
import engine.workflow.models  # noqa: F401
import storage.models  # noqa: F401


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Leave procrastinate's own tables and indexes (created from its schema in 0002_engine)
    out of autogenerate: they belong to the library, not to our models."""
    if type_ == "table":
        return not (name or "").startswith("procrastinate_")
    return True
