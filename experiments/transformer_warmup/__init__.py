"""Transformer warmup: where Post-LN fails without warmup, and why (README.md)."""
