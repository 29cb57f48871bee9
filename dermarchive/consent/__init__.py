"""Consent: scopes, versioned consent records per visit, and the one policy every export asks."""
