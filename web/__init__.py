"""The web application: Flask app factory, blueprints, templates, and the ``polis`` CLI."""
