"""rayline."""
