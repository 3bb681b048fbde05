"""Deterministic pseudo-random weights keyed by parameter name, so fixtures need not store state dicts.

The official MRFA refinement and generator have hard-coded widths (to_context 512/256/128/64 -> 192,
refine 256/192 -> 128, generator 64..512 channels): even a "tiny" MRFA has ~40 M parameters, far too
many to commit. Instead the fixture script fills the official network with `seeded_state_dict` and the
tests rebuild the very same tensors from the recorded names and shapes; per-tensor checksums recorded
with the fixture prove that both sides hold identical weights before outputs are compared.

Values are drawn per tensor from a generator seeded by (seed, crc32(name)) and shaped to keep the
network numerically tame: weights ~ N(0, 1/fan_in), norms ~ 1 + N(0, 0.1^2), biases ~ N(0, 0.1^2),
BN running stats mean ~ N(0, 0.1^2), var ~ U(0.5, 1.5); Jacobian / affine heads near identity, so that
inverted Jacobians stay well conditioned. Tensors a network derives itself (fixed sine embeddings,
anti-aliasing kernels) are listed in `derived` and kept from the template.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping

import torch
from torch import Tensor

#: Last layers whose official init is "zero weight, identity bias": (name suffix, identity bias pattern).
IDENTITY_HEADS = {
    "mlp_head_jacobian.1": (1.0, 0.0, 0.0, 1.0),
    "encoder.jacobian": (1.0, 0.0, 0.0, 1.0),
    "bg_encoder.fc": (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
}


def _generator(seed: int, name: str) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()))


def _identity_head(name: str) -> tuple[float, ...] | None:
    stem = name.rsplit(".", 1)[0]
    for suffix, pattern in IDENTITY_HEADS.items():
        if stem.endswith(suffix):
            return pattern
    return None


def seeded_tensor(name: str, like: Tensor, seed: int) -> Tensor:
    """The deterministic value of parameter/buffer `name` with the shape and dtype of `like`."""
    if not like.is_floating_point():
        return torch.zeros_like(like)
    g = _generator(seed, name)
    normal = torch.randn(like.shape, generator=g, dtype=torch.float32)
    leaf = name.rsplit(".", 1)[-1]
    head = _identity_head(name)
    if leaf == "running_var":
        value = 0.5 + torch.rand(like.shape, generator=g)
    elif leaf == "running_mean" or leaf == "bias" and head is None:
        value = 0.1 * normal
    elif head is not None and leaf == "bias":
        value = torch.tensor(head).repeat(like.numel() // len(head)) + 0.05 * normal
    elif like.dim() >= 2:
        fan_in = like[0].numel()
        value = normal / fan_in**0.5 * (0.05 if head is not None else 1.0)
    else:
        value = 1.0 + 0.1 * normal
    return value.to(like.dtype)


def seeded_state_dict(template: Mapping[str, Tensor], seed: int,
                      derived: Iterable[str] = ()) -> dict[str, Tensor]:
    """Every entry of `template` replaced by `seeded_tensor`, except the names in `derived` (kept)."""
    keep = set(derived)
    return {k: v.clone() if k in keep else seeded_tensor(k, v, seed) for k, v in template.items()}


def checksums(state: Mapping[str, Tensor]) -> dict[str, float]:
    """Per-tensor sum of absolute values (float64): a cheap fingerprint of a state dict."""
    return {k: float(v.double().abs().sum()) for k, v in state.items()}
