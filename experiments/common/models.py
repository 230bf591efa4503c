"""Reference models of the MNIST-1D paper (Greydanus & Kobak 2024), in Flax linen."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp


class MLP(nn.Module):
    """40-100-100-10 ReLU MLP: 15,210 parameters (the paper's MLP)."""

    hidden: int = 100

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(self.hidden)(x))
        x = nn.relu(nn.Dense(self.hidden)(x))
        return nn.Dense(10)(x)


class Conv1D(nn.Module):
    """A 1-D convolution (NWC) written as stacked strided windows times a matrix.

    The same function and parameters as ``nn.Conv``; at MNIST-1D's sizes XLA's
    CPU convolution is several times slower per training step, more so when
    vmapped over sweep members (``experiments/benchmarks/bench_conv.py``).
    """

    features: int
    kernel_size: int
    stride: int
    padding: int

    @nn.compact
    def __call__(self, x):
        channels = x.shape[-1]
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (self.kernel_size, channels, self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        x = jnp.pad(x, ((0, 0), (self.padding, self.padding), (0, 0)))
        length = (x.shape[1] - self.kernel_size) // self.stride + 1
        last = self.stride * (length - 1) + 1
        windows = jnp.concatenate([x[:, j : j + last : self.stride, :] for j in range(self.kernel_size)], axis=-1)
        return windows @ kernel.reshape(-1, self.features) + bias[None, None, :]


class CNN(nn.Module):
    """Three stride-2 convolutions of 25 channels and a linear head: 5,210 parameters."""

    @nn.compact
    def __call__(self, x):
        x = x[..., None]
        x = nn.relu(Conv1D(25, kernel_size=5, stride=2, padding=1)(x))
        x = nn.relu(Conv1D(25, kernel_size=3, stride=2, padding=1)(x))
        x = nn.relu(Conv1D(25, kernel_size=3, stride=2, padding=1)(x))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))


MNIST1D_MODELS = {"mlp": MLP, "cnn": CNN}
