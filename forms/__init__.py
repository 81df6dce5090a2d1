"""Form definitions (JSON Schema per form key), their validation, and the catalogue of services."""
