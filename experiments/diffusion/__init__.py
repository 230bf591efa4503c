"""Diffusion: does the best learning-rate schedule depend on the noise schedule? (issue 12)"""
