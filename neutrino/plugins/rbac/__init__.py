"""RBAC policies: the registry of shareable object types (registry.py) and
the /v2.0/rbac-policies API."""
