"""MineCLIP's video encoder (Fan et al. 2022, MineDojo), which PTGM and STEVE-1 use to embed
Minecraft frames as goals, and a loader for its released checkpoints (`attn.pth`, `avg.pth`).

The embedding is MineCLIP's `encode_video`: a CLIP ViT-B/16 embeds each 160×256 RGB frame, and a
temporal encoder pools a window of 16 frames into one 512-d vector ("attn": a 2-layer transformer,
then the mean over frames; "avg": the mean of the frame features). The reward head's adapter is
not part of `encode_video`, so it is not loaded.

Written here because MineCLIP is not on PyPI (it installs from its git repository) and its temporal
encoder is built with x-transformers 0.27.1, whose module layout later versions changed; this file
rebuilds the same computation and reads the checkpoint by parameter name. The network's size is
read from the checkpoint's shapes, so the tests can use a small file laid out like the real one.
No Ray import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

RESOLUTION = (160, 256)  # (height, width) of MineCLIP's input frames
WINDOW = 16  # frames per embedded clip, as PTGM and STEVE-1 call it
# MineCLIP's normalisation of [0, 1] RGB (its base.py constants, computed on Minecraft frames)
MEAN = (0.3331, 0.3245, 0.3051)
STD = (0.2439, 0.2493, 0.2873)
HEAD_DIM = 64  # CLIP's and x-transformers' attention head width
DOWNLOAD_HINT = ("download attn.pth (or avg.pth) from the MineCLIP README "
                 "(https://github.com/MineDojo/MineCLIP) and pass its path")
# MineCLIP registers its ViT under several names; the released files hold the same weights under each.
IMAGE_PREFIXES = ("model.image_encoder.", "model.clip_model.vision_model.")
TEMPORAL_PREFIX = "model.temporal_encoder.attn.model."


class MineCLIPError(ValueError):
    """A MineCLIP checkpoint that is missing or unusable; one line: `path: problem; fix`."""


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    """CLIP's GELU approximation, which its weights were trained with."""
    return x * torch.sigmoid(1.702 * x)


class _MLP(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.c_fc = nn.Linear(width, 4 * width)
        self.c_proj = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(quick_gelu(self.c_fc(x)))


class _ResidualBlock(nn.Module):
    """CLIP's pre-LN transformer block (sequence-first attention, QuickGELU MLP)."""

    def __init__(self, width: int):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, width // HEAD_DIM)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = _MLP(width)
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class VisionTransformer(nn.Module):
    """MineCLIP's image encoder; parameter names as in its checkpoints (`model.image_encoder.*`)."""

    def __init__(self, width: int, layers: int, patch: int, output_dim: int, grid: tuple[int, int]):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        self.cls_token = nn.Parameter(torch.zeros(width))
        self.pos_embed = nn.Parameter(torch.zeros(grid[0] * grid[1] + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = nn.ModuleList(_ResidualBlock(width) for _ in range(layers))
        self.ln_post = nn.LayerNorm(width)
        self.projection = nn.Parameter(torch.zeros(width, output_dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised images [B, 3, H, W] → features [B, output_dim] (the class token's)."""
        x = self.conv1(images).flatten(2).transpose(1, 2)  # [B, tokens, width], row-major patches
        x = torch.cat([self.cls_token.expand(len(x), 1, -1), x], dim=1) + self.pos_embed
        x = self.ln_pre(x).transpose(0, 1)
        for block in self.blocks:
            x = block(x)
        return self.ln_post(x[0]) @ self.projection


class _Attention(nn.Module):
    """x-transformers' attention: bias-free projections, `heads` heads of HEAD_DIM."""

    def __init__(self, dim: int, inner: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(dim, inner, bias=False)
        self.to_v = nn.Linear(dim, inner, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(x)
        heads = self.to_q.out_features // HEAD_DIM
        q, k, v = (proj(y).unflatten(-1, (heads, HEAD_DIM)).transpose(1, 2) for proj in (self.to_q, self.to_k, self.to_v))
        out = F.scaled_dot_product_attention(q, k, v)  # softmax(q·kᵀ / √HEAD_DIM)·v, no mask
        return x + self.to_out(out.transpose(1, 2).flatten(2))


class _GLUFeedForward(nn.Module):
    """x-transformers' feed-forward with `ff_glu` and `ff_swish`: a·SiLU(g), (a, g) = proj_in(x)."""

    def __init__(self, dim: int, inner: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.proj_in = nn.Linear(dim, 2 * inner)
        self.proj_out = nn.Linear(inner, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, gate = self.proj_in(self.norm(x)).chunk(2, dim=-1)
        return x + self.proj_out(a * F.silu(gate))


class TemporalTransformer(nn.Module):
    """MineCLIP's "attn.d2.nh8.glusw" pooling: learned positions (scaled by dim^-1/2), alternating
    attention and GLU feed-forward layers, a final LayerNorm, then the mean over frames."""

    def __init__(self, dim: int, depth: int, attention_inner: int, ff_inner: int, max_frames: int):
        super().__init__()
        self.pos_emb = nn.Parameter(torch.zeros(max_frames, dim))
        self.layers = nn.ModuleList(
            _Attention(dim, attention_inner) if index % 2 == 0 else _GLUFeedForward(dim, ff_inner)
            for index in range(2 * depth))
        self.norm = nn.LayerNorm(dim)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Frame features [B, L, dim] → clip features [B, dim]."""
        x = frames + self.pos_emb[: frames.shape[1]] * frames.shape[-1] ** -0.5
        for layer in self.layers:
            x = layer(x)
        return self.norm(x).mean(dim=1)


def _temporal_name(checkpoint_key: str) -> str:
    """x-transformers' name of a temporal-encoder parameter → this module's."""
    key = checkpoint_key.removeprefix(TEMPORAL_PREFIX).replace("pos_emb.emb.weight", "pos_emb")
    key = re.sub(r"^attn_layers\.layers\.(\d+)\.0\.0\.", r"layers.\1.norm.", key)
    key = re.sub(r"^attn_layers\.layers\.(\d+)\.1\.net\.0\.proj\.", r"layers.\1.proj_in.", key)
    key = re.sub(r"^attn_layers\.layers\.(\d+)\.1\.net\.3\.", r"layers.\1.proj_out.", key)
    return re.sub(r"^attn_layers\.layers\.(\d+)\.1\.", r"layers.\1.", key)


@dataclass(frozen=True)
class MineCLIPShape:
    """The network's size, read from a checkpoint's parameter shapes."""
    width: int
    layers: int
    patch: int
    embed_dim: int
    pool: str  # "attn" or "avg"
    temporal_depth: int
    temporal_attention_inner: int
    temporal_ff_inner: int
    max_frames: int

    @classmethod
    def of(cls, image: dict[str, torch.Tensor], temporal: dict[str, torch.Tensor], path: Path) -> MineCLIPShape:
        try:
            width, embed_dim = image["projection"].shape
            patch = image["conv1.weight"].shape[-1]
            layers = len({key.split(".")[1] for key in image if key.startswith("blocks.")})
            if not temporal:
                return cls(width, layers, patch, embed_dim, "avg", 0, 0, 0, 0)
            depth = len({key.split(".")[1] for key in temporal if key.startswith("layers.")}) // 2
            return cls(width, layers, patch, embed_dim, "attn", depth, temporal["layers.0.to_q.weight"].shape[0],
                       temporal["layers.1.proj_out.weight"].shape[1], temporal["pos_emb"].shape[0])
        except (KeyError, ValueError) as error:
            raise MineCLIPError(f"{path}: no MineCLIP video encoder in it ({type(error).__name__}: {error}); "
                                f"{DOWNLOAD_HINT}") from None


class MineCLIPVideoEncoder(nn.Module):
    """`encode_video`: RGB clips [B, L, H, W, 3] uint8 → [B, embed_dim] float32."""

    def __init__(self, shape: MineCLIPShape):
        super().__init__()
        self.shape = shape
        grid = (RESOLUTION[0] // shape.patch, RESOLUTION[1] // shape.patch)
        self.image_encoder = VisionTransformer(shape.width, shape.layers, shape.patch, shape.embed_dim, grid)
        self.temporal_encoder = (TemporalTransformer(shape.embed_dim, shape.temporal_depth, shape.temporal_attention_inner,
                                                     shape.temporal_ff_inner, shape.max_frames)
                                 if shape.pool == "attn" else None)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)

    def frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames [N, H, W, 3] uint8 (any size: resized to 160×256 bilinearly) → [N, embed_dim]."""
        images = frames.permute(0, 3, 1, 2).float()
        if tuple(images.shape[-2:]) != RESOLUTION:
            images = F.interpolate(images, size=RESOLUTION, mode="bilinear", align_corners=False)
        return self.image_encoder((images / 255.0 - self.mean) / self.std)

    def pool(self, features: torch.Tensor) -> torch.Tensor:
        """Frame features [B, L, embed_dim] → clip embeddings [B, embed_dim]."""
        return features.mean(dim=1) if self.temporal_encoder is None else self.temporal_encoder(features)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        batch, length = clips.shape[:2]
        return self.pool(self.frame_features(clips.flatten(0, 1)).view(batch, length, -1))

    @torch.no_grad()
    def embed_episode(self, frames: np.ndarray, *, batch_size: int = 64) -> np.ndarray:
        """One embedding per step of an episode's frames [T, H, W, 3] uint8: step t's is the clip of
        frames t−15 … t. Before the episode's first frame the features are zeros, as PTGM pads its
        window. Returns float32 [T, embed_dim]."""
        device = self.mean.device
        features = torch.cat([self.frame_features(torch.as_tensor(frames[start:start + batch_size], device=device))
                              for start in range(0, len(frames), batch_size)])
        padded = torch.cat([features.new_zeros(WINDOW - 1, features.shape[1]), features])
        windows = padded.unfold(0, WINDOW, 1).transpose(1, 2)  # [T, WINDOW, embed_dim]
        return torch.cat([self.pool(windows[start:start + batch_size])
                          for start in range(0, len(windows), batch_size)]).cpu().numpy().astype(np.float32)


def load_mineclip(path: str | Path, *, device: str | torch.device = "cpu") -> MineCLIPVideoEncoder:
    """The video encoder of a MineCLIP checkpoint (`attn.pth` or `avg.pth`: a dict whose "state_dict"
    holds the Lightning module's parameters under `model.`), in eval mode on `device`."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise MineCLIPError(f"{path}: not found; {DOWNLOAD_HINT}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds (pickle, zip, runtime) for a bad file
        raise MineCLIPError(f"{path}: not a torch checkpoint ({type(error).__name__}); {DOWNLOAD_HINT}") from None
    state = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise MineCLIPError(f"{path}: has no 'state_dict' entry, so it is not a MineCLIP checkpoint; {DOWNLOAD_HINT}")
    prefix = next((prefix for prefix in IMAGE_PREFIXES if any(key.startswith(prefix) for key in state)), IMAGE_PREFIXES[0])
    image = {key.removeprefix(prefix): value for key, value in state.items() if key.startswith(prefix)}
    temporal = {_temporal_name(key): value for key, value in state.items() if key.startswith(TEMPORAL_PREFIX)}
    encoder = MineCLIPVideoEncoder(MineCLIPShape.of(image, temporal, path))
    wanted = {f"image_encoder.{key}": value for key, value in image.items()}
    wanted |= {f"temporal_encoder.{key}": value for key, value in temporal.items()}
    own = encoder.state_dict()
    missing = [key for key in own if key not in wanted]
    unexpected = [key for key in wanted if key not in own]
    problems = [f"missing {', '.join(missing[:3])}"] if missing else []
    problems += [f"unexpected {', '.join(unexpected[:3])}"] if unexpected else []
    problems += [f"{key} is {tuple(value.shape)}, expected {tuple(own[key].shape)}"
                 for key, value in wanted.items() if key in own and value.shape != own[key].shape][:3]
    if problems:
        raise MineCLIPError(f"{path}: not laid out as a MineCLIP checkpoint ({'; '.join(problems)}); {DOWNLOAD_HINT}")
    encoder.load_state_dict(wanted)
    return encoder.to(device).eval()
