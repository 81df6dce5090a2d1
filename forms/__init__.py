"""Form definitions (JSON Schema per form key), their validation, and the catalogue of services.
Data and checks only: imports core, never engine or web."""
