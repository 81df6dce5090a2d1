"""Form definitions (JSON Schema per form key) and their validation."""
