"""Lottery tickets on MNIST-1D: is the learning-rate schedule part of the ticket? (issue 13)"""
