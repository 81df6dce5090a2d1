"""Imports every models module so that ``Base.metadata`` knows every table.

migrations/env.py and the migration tests import this; a new models module is added here.
"""

import engine.org
import engine.protocol.models  # noqa: F401
import storage.models  # noqa: F401
