"""Form definitions and the catalogue of services citizens can request."""
