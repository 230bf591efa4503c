"""Configs of the noisy-labels study: smoke, quick, default, gpu."""
