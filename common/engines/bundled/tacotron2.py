"""Mellotron-style multi-speaker Tacotron 2 acoustic model with batched inference.

Parameter names match the ttskit ``mellotron.kuangdd-mspk`` checkpoint, so the converted state
dict loads with ``strict=True``. Architecture (sizes from ``hparams.json``): symbol embedding →
3 × (conv5 + batch norm + ReLU) → BiLSTM; the speaker name's 32-number md5 vector goes through
a linear layer and is concatenated to every encoder frame; the autoregressive decoder has a
2-layer prenet whose dropout (p = 0.5) stays ON at inference (as in Tacotron 2, and the source
of output variety), an attention LSTM, location-sensitive attention, a decoder LSTM, a mel
projection and a stop gate; a 5-layer postnet adds a residual.

Batched inference pads the symbol sequences, keeps padding out of the encoder convolutions
(zeroed between layers) and of the BiLSTM (packed sequences), masks it in the attention
softmax, stops every item on its own gate and compacts finished items out of the batch. Each
item's prenet dropout masks come from its own ``torch.Generator``, so an item's output does
not depend on what else is in its batch.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

PRENET_DROPOUT = 0.5


def speaker_vector(name: str) -> list[float]:
    """ttskit's speaker code: each hex digit ``d`` of md5(name) becomes ``(d - 7) / 10``."""
    return [(int(h, 16) - 7) / 10 for h in hashlib.md5(name.encode("utf8")).hexdigest()]


class LinearNorm(nn.Module):
    """A linear layer (kept as a wrapper for checkpoint names)."""

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True):
        super().__init__()
        self.linear_layer = nn.Linear(in_dim, out_dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_layer(x)


class ConvNorm(nn.Module):
    """A 1-d convolution with 'same' padding (kept as a wrapper for checkpoint names)."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, bias: bool = True):
        super().__init__()
        self.conv = nn.Conv1d(in_ch, out_ch, kernel_size, padding=(kernel_size - 1) // 2, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def _conv_bn(in_ch: int, out_ch: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(ConvNorm(in_ch, out_ch, kernel), nn.BatchNorm1d(out_ch))


class Encoder(nn.Module):
    """Convolution bank + BiLSTM over symbol embeddings."""

    def __init__(self, dim: int, n_convs: int, kernel: int):
        super().__init__()
        self.convolutions = nn.ModuleList([_conv_bn(dim, dim, kernel) for _ in range(n_convs)])
        self.lstm = nn.LSTM(dim, dim // 2, 1, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``x``: (B, C, T) embeddings; ``valid``: (B, T) bool. Returns (B, T, C)."""
        keep = valid.unsqueeze(1).to(x.dtype)
        for conv in self.convolutions:
            x = F.relu(conv(x * keep))
        x = (x * keep).transpose(1, 2)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
        return out


class LocationLayer(nn.Module):
    """Convolution over previous and cumulative attention weights."""

    def __init__(self, n_filters: int, kernel: int, attention_dim: int):
        super().__init__()
        self.location_conv = ConvNorm(2, n_filters, kernel, bias=False)
        self.location_dense = LinearNorm(n_filters, attention_dim, bias=False)

    def forward(self, weights_cat: torch.Tensor) -> torch.Tensor:
        return self.location_dense(self.location_conv(weights_cat).transpose(1, 2))


class Attention(nn.Module):
    """Location-sensitive additive attention; the softmax runs in fp32 with padding masked."""

    def __init__(self, rnn_dim: int, memory_dim: int, attention_dim: int, n_filters: int, kernel: int):
        super().__init__()
        self.query_layer = LinearNorm(rnn_dim, attention_dim, bias=False)
        self.memory_layer = LinearNorm(memory_dim, attention_dim, bias=False)
        self.v = LinearNorm(attention_dim, 1, bias=False)
        self.location_layer = LocationLayer(n_filters, kernel, attention_dim)

    def forward(self, query, memory, processed_memory, weights_cat, valid):
        energies = self.v(torch.tanh(self.query_layer(query).unsqueeze(1)
                                     + self.location_layer(weights_cat) + processed_memory)).squeeze(-1)
        energies = energies.float().masked_fill(~valid, float("-inf"))
        weights = torch.softmax(energies, dim=1)
        context = torch.bmm(weights.unsqueeze(1).to(memory.dtype), memory).squeeze(1)
        return context, weights


class Prenet(nn.Module):
    """Two ReLU layers with always-on dropout, masks supplied by the caller."""

    def __init__(self, in_dim: int, dim: int):
        super().__init__()
        self.layers = nn.ModuleList([LinearNorm(in_dim, dim, bias=False), LinearNorm(dim, dim, bias=False)])

    def forward(self, x: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """``masks``: (B, 2, dim) uniform [0, 1) draws; kept where ``>= p``, scaled by ``1/(1-p)``."""
        for i, linear in enumerate(self.layers):
            keep = (masks[:, i] >= PRENET_DROPOUT).to(x.dtype) / (1.0 - PRENET_DROPOUT)
            x = F.relu(linear(x)) * keep
        return x


class Decoder(nn.Module):
    """Autoregressive decoder (one mel frame per step)."""

    def __init__(self, hp: dict):
        super().__init__()
        mem = hp["encoder_embedding_dim"] + hp["speaker_embedding_dim"]
        self.n_mel = hp["n_mel_channels"]
        self.prenet = Prenet(self.n_mel, hp["prenet_dim"])
        self.attention_rnn = nn.LSTMCell(hp["prenet_dim"] + mem, hp["attention_rnn_dim"])
        self.attention_layer = Attention(hp["attention_rnn_dim"], mem, hp["attention_dim"],
                                         hp["attention_location_n_filters"], hp["attention_location_kernel_size"])
        self.decoder_rnn = nn.LSTMCell(hp["attention_rnn_dim"] + mem, hp["decoder_rnn_dim"])
        self.linear_projection = LinearNorm(hp["decoder_rnn_dim"] + mem, self.n_mel)
        self.gate_layer = LinearNorm(hp["decoder_rnn_dim"] + mem, 1)


class Postnet(nn.Module):
    """Five conv + batch-norm layers predicting a residual on the decoder mel."""

    def __init__(self, n_mel: int, dim: int, kernel: int, n_convs: int):
        super().__init__()
        chans = [n_mel] + [dim] * (n_convs - 1) + [n_mel]
        self.convolutions = nn.ModuleList([_conv_bn(chans[i], chans[i + 1], kernel) for i in range(n_convs)])

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        keep = valid.unsqueeze(1).to(x.dtype)
        for i, conv in enumerate(self.convolutions):
            x = conv(x * keep)
            if i < len(self.convolutions) - 1:
                x = torch.tanh(x)
        return x


@dataclass
class AcousticOutput:
    """Inference result for one item."""

    mel: torch.Tensor
    """(n_mel, frames) float32 on the model's device, postnet applied, trimmed at the stop."""
    stop_fired: bool
    frames: int
    attention_max: int
    """Furthest input position the attention peaked on (truncation shows as a low value)."""


class Tacotron2(nn.Module):
    """The acoustic model; see the module docstring."""

    def __init__(self, hp: dict):
        super().__init__()
        self.hp = dict(hp)
        self.embedding = nn.Embedding(hp["n_symbols"], hp["symbols_embedding_dim"])
        self.encoder = Encoder(hp["encoder_embedding_dim"], hp["encoder_n_convolutions"], hp["encoder_kernel_size"])
        self.decoder = Decoder(hp)
        self.postnet = Postnet(hp["n_mel_channels"], hp["postnet_embedding_dim"], hp["postnet_kernel_size"],
                               hp["postnet_n_convolutions"])
        self.speaker_embedding = nn.Linear(hp["n_speakers"], hp["speaker_embedding_dim"])

    def encode(self, ids: torch.Tensor, lengths: torch.Tensor, speakers: torch.Tensor):
        """Return ``(memory (B,T,288), valid (B,T))``."""
        valid = torch.arange(ids.size(1), device=ids.device)[None, :] < lengths[:, None]
        text = self.encoder(self.embedding(ids).transpose(1, 2), lengths, valid)
        spk = self.speaker_embedding(speakers)[:, None].expand(-1, text.size(1), -1)
        return torch.cat((text, spk.to(text.dtype)), dim=2), valid

    @torch.inference_mode()
    def infer(self, ids: torch.Tensor, lengths: torch.Tensor, speakers: torch.Tensor, generators: list,
              max_steps: list[int], gate_threshold: float) -> list[AcousticOutput]:
        """Batched greedy decoding.

        Args:
            ids: (B, T) padded symbol ids; lengths: (B,) true lengths; speakers: (B, 32) codes.
            generators: one ``torch.Generator`` per item (on the model's device) for dropout.
            max_steps: per-item decoder step limit (an item hitting it has ``stop_fired=False``).
            gate_threshold: stop when ``sigmoid(gate)`` exceeds it; the firing frame is dropped.
        """
        dec = self.decoder
        dev = ids.device
        memory, valid = self.encode(ids, lengths, speakers)
        processed = dec.attention_layer.memory_layer(memory)
        B, T, _ = memory.shape
        limit = max(max_steps)
        pdim = dec.prenet.layers[0].linear_layer.out_features
        masks = torch.stack([torch.rand((limit, 2, pdim), generator=g, device=dev) for g in generators])
        zeros = lambda n: memory.new_zeros(B, n)  # noqa: E731
        att_h, att_c = zeros(dec.attention_rnn.hidden_size), zeros(dec.attention_rnn.hidden_size)
        dec_h, dec_c = zeros(dec.decoder_rnn.hidden_size), zeros(dec.decoder_rnn.hidden_size)
        w = torch.zeros(B, T, device=dev)
        w_cum = torch.zeros(B, T, device=dev)
        context = zeros(memory.size(2))
        frame = zeros(dec.n_mel)
        mels = torch.zeros(B, limit, dec.n_mel, device=dev)
        active = torch.arange(B, device=dev)
        steps = torch.tensor(max_steps, device=dev)
        lengths_out = list(max_steps)
        fired = [False] * B
        att_max = torch.zeros(B, dtype=torch.long, device=dev)
        gate_w, gate_b = dec.gate_layer.linear_layer.weight.float(), dec.gate_layer.linear_layer.bias.float()
        for t in range(limit):
            x = dec.prenet(frame, masks[active, t])
            att_h, att_c = dec.attention_rnn(torch.cat((x, context), -1), (att_h, att_c))
            context, w = dec.attention_layer(att_h, memory, processed, torch.stack((w, w_cum), 1).to(memory.dtype),
                                             valid)
            w_cum = w_cum + w
            att_max[active] = torch.maximum(att_max[active], w.argmax(1))
            dec_h, dec_c = dec.decoder_rnn(torch.cat((att_h, context), -1), (dec_h, dec_c))
            out = torch.cat((dec_h, context), dim=1)
            frame = dec.linear_projection(out)
            mels[active, t] = frame.float()
            with torch.autocast(dev.type, enabled=False):
                gate = torch.sigmoid(F.linear(out.float(), gate_w, gate_b)).squeeze(1)
            stop = gate > gate_threshold
            done = stop | (steps[active] <= t + 1)
            if bool(done.any()):
                for j in torch.nonzero(done).flatten().tolist():
                    item = int(active[j])
                    fired[item] = bool(stop[j])
                    lengths_out[item] = t if fired[item] else t + 1
                keep = ~done
                if not bool(keep.any()):
                    break
                active = active[keep]
                att_h, att_c, dec_h, dec_c = att_h[keep], att_c[keep], dec_h[keep], dec_c[keep]
                w, w_cum, context, frame = w[keep], w_cum[keep], context[keep], frame[keep]
                memory, processed, valid = memory[keep], processed[keep], valid[keep]
        n_frames = max(1, max(lengths_out))
        mel = mels[:, :n_frames].transpose(1, 2)
        out_len = torch.tensor([max(1, n) for n in lengths_out], device=dev)
        valid_t = torch.arange(n_frames, device=dev)[None, :] < out_len[:, None]
        mel = mel.to(memory.dtype) if memory.dtype != torch.float32 else mel
        post = (mel + self.postnet(mel, valid_t)).float()
        results = []
        for i in range(B):
            n = max(1, lengths_out[i])
            results.append(AcousticOutput(post[i, :, :n], fired[i], lengths_out[i], int(att_max[i])))
        return results
