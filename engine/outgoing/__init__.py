"""Outgoing and internal documents: drafts with versions, the signature chain, the official's
qualified signature, ΕΞ/ΕΣΩ registration and dispatch to every recipient."""
