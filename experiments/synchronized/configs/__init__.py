"""Configs of the synchronized study: smoke, quick, default, gpu."""
