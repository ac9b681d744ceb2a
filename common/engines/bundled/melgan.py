"""MelGAN generator (Kumar et al. 2019; seungwonpark's layout) used as the vocoder.

Weight norm was folded into plain weights by the converter, so this is a stack of plain
convolutions: conv7 → 4 × (LeakyReLU, transposed conv upsampling ×8, ×8, ×2, ×2, residual
stack of dilated convs) → conv7 → tanh; 256 samples per mel frame. The index layout of
``generator`` matches the checkpoint so its state dict loads with ``strict=True``.
"""

from __future__ import annotations

import torch
from torch import nn

HOP = 256
SILENCE_MEL = -11.5129
"""log(1e-5): the mel value of silence; used to pad the tail (avoids an end click)."""
_TAIL_FRAMES = 10


class ResStack(nn.Module):
    """Three dilated residual blocks (dilations 1, 3, 9)."""

    def __init__(self, channels: int):
        super().__init__()
        self.blocks = nn.ModuleList([
            nn.Sequential(nn.LeakyReLU(0.2), nn.ReflectionPad1d(3 ** i),
                          nn.Conv1d(channels, channels, kernel_size=3, dilation=3 ** i),
                          nn.LeakyReLU(0.2), nn.Conv1d(channels, channels, kernel_size=1))
            for i in range(3)])
        self.shortcuts = nn.ModuleList([nn.Conv1d(channels, channels, kernel_size=1) for _ in range(3)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block, shortcut in zip(self.blocks, self.shortcuts):
            x = shortcut(x) + block(x)
        return x


class MelGAN(nn.Module):
    """Mel (B, 80, T) → audio (B, T × 256) in [-1, 1]."""

    def __init__(self, n_mel: int = 80):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad1d(3), nn.Conv1d(n_mel, 512, kernel_size=7)]
        for cin, cout, k, s, p in ((512, 256, 16, 8, 4), (256, 128, 16, 8, 4), (128, 64, 4, 2, 1), (64, 32, 4, 2, 1)):
            layers += [nn.LeakyReLU(0.2), nn.ConvTranspose1d(cin, cout, kernel_size=k, stride=s, padding=p),
                       ResStack(cout)]
        layers += [nn.LeakyReLU(0.2), nn.ReflectionPad1d(3), nn.Conv1d(32, 1, kernel_size=7), nn.Tanh()]
        self.generator = nn.Sequential(*layers)

    @torch.inference_mode()
    def vocode(self, mel: torch.Tensor, frames: list[int] | None = None) -> list[torch.Tensor]:
        """Vocode a (B, 80, T) batch; return each item's audio trimmed to ``frames[i] * 256``.

        Ten silent frames are appended (and their audio cut) as in the original inference.
        Padding beyond an item's length should be :data:`SILENCE_MEL`.
        """
        tail = torch.full((mel.size(0), mel.size(1), _TAIL_FRAMES), SILENCE_MEL, device=mel.device, dtype=mel.dtype)
        audio = self.generator((torch.cat((mel, tail), dim=2) + 5.0) / 5.0).squeeze(1).float()
        frames = frames or [mel.size(2)] * mel.size(0)
        return [audio[i, : n * HOP] for i, n in enumerate(frames)]
