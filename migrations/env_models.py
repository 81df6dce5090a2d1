"""Imports every models module so that ``Base.metadata`` knows every table.

migrations/env.py and the migration tests import this; a new models module is added here.
"""

import engine.applicants.models
import engine.notifications.models
import engine.org  # noqa: F401
import storage.models  # noqa: F401
