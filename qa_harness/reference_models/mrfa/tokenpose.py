"""TokenPose-style transformer head of MTIA: keypoint and Jacobian tokens attend to image patch tokens.

Follows `TokenPose_TB_base` of the official MRFA code (JialeTao/MRFA at 20f935f,
`modules/transformer/tokenpose_base.py`) with the arguments `TokenPose_B` gives it: one token per keypoint
plus one per Jacobian (2K learned tokens), pre-norm transformer, keypoints regressed directly from their
tokens (2*sigmoid - 1, so in [-1, 1]) and 2x2 Jacobians from theirs. Parameter names reproduce
`encoder.transformer.*` of the official state dict.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

POS_EMBEDDINGS = ("none", "learnable", "sine", "sine-full")


def sine_position_embedding(h: int, w: int, dim: int, temperature: float = 10000.0) -> Tensor:
    """DETR-style 2-D sine/cosine embedding of an h x w patch grid: (1, h*w, dim), y half then x half.

    Positions are 1..h (1..w) scaled to (0, 2*pi]; channel pair k uses frequency temperature^(2k/(dim/2)).
    """
    half = dim // 2
    y = torch.arange(1, h + 1, dtype=torch.float32) / (h + 1e-6) * (2 * math.pi)
    x = torch.arange(1, w + 1, dtype=torch.float32) / (w + 1e-6) * (2 * math.pi)
    freq = temperature ** (2 * (torch.arange(half, dtype=torch.float32) // 2) / half)

    def encode(pos: Tensor) -> Tensor:
        angles = pos[:, None] / freq
        return torch.stack((angles[:, 0::2].sin(), angles[:, 1::2].cos()), dim=2).flatten(1)

    ey = encode(y)[:, None, :].expand(h, w, -1)
    ex = encode(x)[None, :, :].expand(h, w, -1)
    return torch.cat((ey, ex), dim=2).reshape(1, h * w, dim)


class Attention(nn.Module):
    """Multi-head self-attention, scale 1/sqrt(head dim); optional fixed mask that stops image tokens
    from attending to keypoint tokens (`FIX_IMG2MOTION_ATTENTION`, a -1000 logit bias)."""

    def __init__(self, dim: int, heads: int, num_tokens: int | None = None, num_keypoints: int = 0) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.to_qkv = nn.Linear(dim, dim * 3, bias=False)
        self.to_out = nn.Sequential(nn.Linear(dim, dim))
        mask = None
        if num_tokens is not None:
            mask = torch.zeros(1, 1, num_tokens, num_tokens)
            mask[..., num_keypoints:, :num_keypoints] = -1000.0
        self.register_buffer("attn_mask", mask)

    def forward(self, x: Tensor) -> Tensor:
        # The official arithmetic (einsum, scale, mask added to the logits, softmax, einsum) on purpose:
        # `F.scaled_dot_product_attention` drifts 2-3e-4 from it on the generated frame once trained-like
        # weights make the keypoints move with the input (and parity is 1e-4).
        b, n, d = x.shape
        q, k, v = (t.reshape(b, n, self.heads, d // self.heads).transpose(1, 2) for t in self.to_qkv(x).chunk(3, -1))
        dots = torch.einsum("bhid,bhjd->bhij", q, k) * self.scale
        if self.attn_mask is not None:
            dots = dots + self.attn_mask
        out = torch.einsum("bhij,bhjd->bhid", dots.softmax(dim=-1), v)
        return self.to_out(out.transpose(1, 2).reshape(b, n, d))


class PreNormResidual(nn.Module):
    """x + fn(LayerNorm(x)); the nesting (`fn.norm`, `fn.fn`) mirrors the official Residual(PreNorm(.))."""

    def __init__(self, dim: int, fn: nn.Module) -> None:
        super().__init__()
        self.fn = nn.Module()
        self.fn.norm = nn.LayerNorm(dim)
        self.fn.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        return x + self.fn.fn(self.fn.norm(x))


class FeedForward(nn.Module):
    """Linear - GELU - Linear (indices 0 and 3 as in the official Sequential with dropouts)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Identity(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class TokenPoseHead(nn.Module):
    """Patch embedding + transformer + keypoint/Jacobian regression heads.

    Input: HRNet features (B, channels, Hf, Wf). With `pos_embedding="sine-full"` the fixed sine embedding
    is added to the image tokens before every layer ("all attention"), with "sine" only once, with
    "learnable" a learned embedding over all tokens once. Returns {'kp' (B,K,2), 'jacobian' (B,K,2,2)}.
    """

    def __init__(
        self,
        *,
        feature_size: tuple[int, int],
        patch_size: tuple[int, int],
        num_keypoints: int,
        dim: int,
        depth: int,
        heads: int,
        mlp_dim: int,
        channels: int,
        pos_embedding: str,
        estimate_jacobian: bool,
        fix_img2motion_attention: bool,
    ) -> None:
        super().__init__()
        gh, gw = feature_size[0] // patch_size[0], feature_size[1] // patch_size[1]
        self.patch_size = patch_size
        self.num_keypoints = num_keypoints
        num_tokens = 2 * num_keypoints  # one keypoint token and one Jacobian token per keypoint
        self.num_tokens = num_tokens
        self.pos_embedding_type = pos_embedding
        self.keypoint_token = nn.Parameter(torch.zeros(1, num_tokens, dim))
        if pos_embedding == "learnable":
            self.pos_embedding = nn.Parameter(torch.zeros(1, gh * gw + num_tokens, dim))
            nn.init.trunc_normal_(self.pos_embedding, std=0.02)
        elif pos_embedding in ("sine", "sine-full"):
            self.pos_embedding = nn.Parameter(sine_position_embedding(gh, gw, dim), requires_grad=False)
        self.patch_to_embedding = nn.Linear(channels * patch_size[0] * patch_size[1], dim)
        mask_tokens = num_tokens + gh * gw if fix_img2motion_attention else None
        self.transformer = nn.Module()
        self.transformer.layers = nn.ModuleList(
            nn.ModuleList(
                [
                    PreNormResidual(dim, Attention(dim, heads, mask_tokens, num_tokens)),
                    PreNormResidual(dim, FeedForward(dim, mlp_dim)),
                ]
            )
            for _ in range(depth)
        )
        self.mlp_head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 2))
        nn.init.trunc_normal_(self.keypoint_token, std=0.02)
        self.apply(_init_weights)
        self.mlp_head_jacobian = None
        if estimate_jacobian:
            self.mlp_head_jacobian = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 4))
            nn.init.zeros_(self.mlp_head_jacobian[1].weight)
            with torch.no_grad():
                self.mlp_head_jacobian[1].bias.copy_(torch.tensor([1.0, 0.0, 0.0, 1.0]))

    def _tokens(self, feature: Tensor) -> Tensor:
        """(B,C,H,W) -> (B, patches, ph*pw*C) with patches row-major and features ordered (p1, p2, c)."""
        b, c, h, w = feature.shape
        p1, p2 = self.patch_size
        x = feature.view(b, c, h // p1, p1, w // p2, p2).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(b, (h // p1) * (w // p2), p1 * p2 * c)

    def forward(self, feature: Tensor) -> dict[str, Tensor]:
        x = self.patch_to_embedding(self._tokens(feature))
        b, n, _ = x.shape
        tokens = self.keypoint_token.expand(b, -1, -1)
        kind = self.pos_embedding_type
        if kind in ("sine", "sine-full"):
            x = torch.cat((tokens, x + self.pos_embedding[:, :n]), dim=1)
        else:
            x = torch.cat((tokens, x), dim=1)
            if kind == "learnable":
                x = x + self.pos_embedding[:, : n + self.num_tokens]
        nt = self.num_tokens
        for idx, (attn, ff) in enumerate(self.transformer.layers):
            if idx > 0 and kind == "sine-full":
                x = torch.cat((x[:, :nt], x[:, nt:] + self.pos_embedding), dim=1)
            x = ff(attn(x))
        k = self.num_keypoints
        out = {"kp": 2 * torch.sigmoid(self.mlp_head(x[:, :k])) - 1}
        if self.mlp_head_jacobian is not None:
            out["jacobian"] = self.mlp_head_jacobian(x[:, k:nt]).view(b, k, 2, 2)
        return out


def _init_weights(m: nn.Module) -> None:
    """Official TokenPose init: truncated-normal (std 0.02) Linear weights, zero biases, unit LayerNorms."""
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
