"""Configs of the lottery-ticket study: smoke, quick, default, gpu, anchor."""
