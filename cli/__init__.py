"""The ``polis`` command: the top of the import order (cli → web → engine → {forms, signing,
storage} → core). Operators' commands for the database, processes, the worker, the protocol,
storage and tokens; ``polis run`` serves the web app and the worker together.
"""
