"""Research studies built on optasched's public API (``python -m experiments.<name>``)."""
