"""Pages kept in memory under a key that names everything they show (a per-process LRU).

Used by the staff inbox: its key holds the task index versions of the reader's department and
of the reader as assignee (engine.workflow.index_versions), the session (its CSRF token is in
the page), the reader's acting position and roles, the language, the URL and the minute (the
deadline words move with the clock). A change to any of them is a new key: a kept page is
never older than what its key says. Each web worker process keeps its own pages.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable


class PageCache:
    """At most ``size`` rendered pages, least recently used dropped first; safe across threads."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._pages: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> str | None:
        """The page kept under ``key``, or None."""
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key: Hashable, page: str) -> None:
        """Keep ``page`` under ``key``."""
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)

    def clear(self) -> None:
        """Forget every page (tests)."""
        with self._lock:
            self._pages.clear()
