"""Checks: one small module per family of rules. Each rule has the id of the spec's relation."""
