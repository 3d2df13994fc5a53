"""A DeepSeek-V4 sequence's cache: per layer a sliding window, and for compressed layers the paged
compressed rows, the indexer's paged keys, and each compressor's rolling state.

What a layer keeps, by kind (transformers' `DeepseekV4HCACache` / `DeepseekV4CSACache` hold the same
state as growing tensors):
- every layer: the last `sliding_window - 1` keys (K = V in V4), a fixed-size window;
- HCA and CSA: the compressed rows emitted so far (paged), plus the compressor's buffer of tokens
  since the last full window (fewer than its rate);
- CSA also: the previous window's first-half projection ("overlap"), which the next window pools
  with, and the same three things again for the indexer's keys.

A `Checkpoint` is the small part of that state at one token boundary (window, buffers, overlaps and
row counts); with the pages it points into, it restarts a sequence at that boundary. This is how a
follow-up question on a document skips the document's prefill.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from engine.v4.pages import PagePool, PagedRows

SLIDING = "sliding_attention"
CSA = "compressed_sparse_attention"
HCA = "heavily_compressed_attention"


@dataclass
class StreamState:
    """One compressor stream: the attention rows ("kv") or the indexer keys ("index")."""

    rows: PagedRows
    rate: int
    buffer_kv: torch.Tensor  # [< rate, width]: tokens since the last full window
    buffer_gate: torch.Tensor
    overlap_kv: torch.Tensor | None = None  # CSA only: [rate, head_dim], the last window's first half
    overlap_gate: torch.Tensor | None = None


@dataclass
class LayerState:
    kind: str
    window: torch.Tensor  # [<= sliding_window - 1, head_dim]
    kv: StreamState | None = None
    index: StreamState | None = None

    def streams(self) -> list[tuple[str, StreamState]]:
        return [(name, s) for name, s in (("kv", self.kv), ("index", self.index)) if s is not None]


@dataclass(frozen=True)
class StreamMark:
    rows: int
    buffer_kv: torch.Tensor
    buffer_gate: torch.Tensor
    overlap_kv: torch.Tensor | None
    overlap_gate: torch.Tensor | None


@dataclass(frozen=True)
class Checkpoint:
    """A sequence's state after `length` tokens, minus the rows it shares with its pages."""

    length: int
    windows: tuple[torch.Tensor, ...]
    streams: tuple[dict[str, StreamMark], ...]


@dataclass
class CacheGeometry:
    """What the config says each layer stores; the pools are sized from it."""

    kinds: list[str]
    head_dim: int
    index_head_dim: int
    sliding_window: int
    rates: dict[str, int]
    dtype: torch.dtype
    devices: list[torch.device]
    page_rows: int = 64

    @classmethod
    def from_model(cls, model, *, page_rows: int = 64) -> CacheGeometry:
        devices = [next(layer.parameters()).device for layer in model.model.layers]
        # The compute dtype: an FP8 checkpoint on CUDA keeps float8 projection weights, which model.dtype may name.
        dtype = model.model.embed_tokens.weight.dtype
        return cls.from_config(model.config, dtype=dtype, devices=devices, page_rows=page_rows)

    @classmethod
    def from_config(cls, config, *, dtype: torch.dtype, devices: list[torch.device] | None = None,
                    page_rows: int = 64) -> CacheGeometry:
        """Also for planning before a model exists (engine.model_plan): then `devices` may be left empty."""
        return cls(
            kinds=list(config.layer_types),
            head_dim=config.head_dim,
            index_head_dim=config.index_head_dim,
            sliding_window=config.sliding_window,
            rates=dict(config.compress_rates),
            dtype=dtype,
            devices=list(devices or []),
            page_rows=page_rows,
        )

    def stream_widths(self, kind: str) -> dict[str, int]:
        if kind == HCA:
            return {"kv": self.head_dim}
        if kind == CSA:
            return {"kv": self.head_dim, "index": self.index_head_dim}
        return {}

    def projection_width(self, kind: str, stream: str) -> int:
        """What the compressor projects per token: CSA's two overlapping series double it."""
        width = self.head_dim if stream == "kv" else self.index_head_dim
        return 2 * width if kind == CSA else width

    def kv_bytes_per_token(self, dtype_bytes: int | None = None) -> float:
        """Cache bytes each further token adds (the sliding windows are a constant on top)."""
        return sum(self.kv_bytes_per_token_by_kind(dtype_bytes).values())

    def kv_bytes_per_token_by_kind(self, dtype_bytes: int | None = None) -> dict[str, float]:
        """The same, split by layer kind (all layers of a kind together); sliding-only layers add nothing."""
        size = dtype_bytes if dtype_bytes is not None else torch.empty((), dtype=self.dtype).element_size()
        by_kind: dict[str, float] = {}
        for kind in self.kinds:
            for width in self.stream_widths(kind).values():
                by_kind[kind] = by_kind.get(kind, 0.0) + width * size / self.rates[kind]
        return by_kind

    def window_bytes(self) -> int:
        size = torch.empty((), dtype=self.dtype).element_size()
        return len(self.kinds) * (self.sliding_window - 1) * self.head_dim * size


class Pools:
    """One PagePool per (layer, stream), shared by every sequence of one engine."""

    def __init__(self, geometry: CacheGeometry) -> None:
        self.geometry = geometry
        self.by_layer: list[dict[str, PagePool]] = []
        for kind, device in zip(geometry.kinds, geometry.devices):
            self.by_layer.append({
                name: PagePool(width, page_rows=geometry.page_rows, dtype=geometry.dtype, device=device)
                for name, width in geometry.stream_widths(kind).items()
            })

    def nbytes(self) -> int:
        return sum(pool.nbytes() for layer in self.by_layer for pool in layer.values())

    def used_bytes(self) -> int:
        return sum(pool.used_pages * pool.page_bytes() for layer in self.by_layer for pool in layer.values())


@dataclass
class SequenceCache:
    """The cache of one sequence being prefilled or decoded."""

    geometry: CacheGeometry
    layers: list[LayerState]
    length: int = 0
    token_ids: list[int] = field(default_factory=list)

    @classmethod
    def empty(cls, pools: Pools) -> SequenceCache:
        g = pools.geometry
        layers = []
        for index, (kind, device) in enumerate(zip(g.kinds, g.devices)):
            state = LayerState(kind=kind, window=torch.zeros(0, g.head_dim, dtype=g.dtype, device=device))
            for name, pool in pools.by_layer[index].items():
                width = g.projection_width(kind, name)
                stream = StreamState(
                    rows=PagedRows(pool),
                    rate=g.rates[kind],
                    buffer_kv=torch.zeros(0, width, dtype=g.dtype, device=device),
                    buffer_gate=torch.zeros(0, width, dtype=g.dtype, device=device),
                )
                setattr(state, name, stream)
            layers.append(state)
        return cls(geometry=g, layers=layers)

    def checkpoint(self) -> Checkpoint:
        streams = []
        for layer in self.layers:
            streams.append({
                name: StreamMark(s.rows.rows, s.buffer_kv.clone(), s.buffer_gate.clone(),
                                 None if s.overlap_kv is None else s.overlap_kv.clone(),
                                 None if s.overlap_gate is None else s.overlap_gate.clone())
                for name, s in layer.streams()
            })
        return Checkpoint(self.length, tuple(layer.window.clone() for layer in self.layers), tuple(streams))

    def fork(self, mark: Checkpoint) -> SequenceCache:
        """A new sequence at `mark` (a checkpoint of this sequence), sharing this one's pages up to it."""
        layers = []
        for layer, window, marks in zip(self.layers, mark.windows, mark.streams):
            state = LayerState(kind=layer.kind, window=window.clone())
            for name, s in layer.streams():
                m = marks[name]
                setattr(state, name, StreamState(
                    rows=s.rows.fork(m.rows), rate=s.rate,
                    buffer_kv=m.buffer_kv.clone(), buffer_gate=m.buffer_gate.clone(),
                    overlap_kv=None if m.overlap_kv is None else m.overlap_kv.clone(),
                    overlap_gate=None if m.overlap_gate is None else m.overlap_gate.clone(),
                ))
            layers.append(state)
        return SequenceCache(self.geometry, layers, mark.length, list(self.token_ids[:mark.length]))

    def free(self) -> None:
        for layer in self.layers:
            for _, s in layer.streams():
                s.rows.free()

    def row_bytes(self) -> int:
        """Bytes of compressed rows and indexer keys this sequence holds (the per-token part of its cache)."""
        total = 0
        for layer in self.layers:
            for _, s in layer.streams():
                total += s.rows.rows * s.rows.pool.width * s.rows.pool.storage.element_size()
        return total
