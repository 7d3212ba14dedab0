"""API tokens with roles (stored hashed), and the audit log of who changed what."""
