"""Reusing a document's prefill: checkpoints at fixed token boundaries, found by a chained hash of the
tokens before them, kept in memory and optionally saved to disk.

A follow-up question repeats the document and changes only the end of the prompt, so the longest
boundary whose chained hash matches the new prompt is where its prefill can resume; at most one
interval of tokens (plus the question) is computed again. The chain starts from the model's identity,
so two models never share a checkpoint. On disk a document is one safetensors file (its rows up to the
last boundary and every checkpoint) plus a small JSON index of boundary hashes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.v4.cache import Checkpoint, Pools, SequenceCache, StreamMark

_FORMAT = 1


def chain_hashes(model_key: str, ids: list[int], every: int) -> list[str]:
    """hashes[i] identifies ids[: (i + 1) * every] under this model (only whole intervals)."""
    digest = hashlib.sha256(model_key.encode()).digest()
    out = []
    for end in range(every, len(ids) + 1, every):
        digest = hashlib.sha256(digest + torch.tensor(ids[end - every:end], dtype=torch.int64).numpy().tobytes()).digest()
        out.append(digest.hex())
    return out


@dataclass
class _Held:
    owner: SequenceCache
    checkpoints: dict[str, Checkpoint]  # chain hash -> checkpoint of owner


class PrefixStore:
    """Checkpoints of recent documents in memory (least recently used dropped past `max_documents`)."""

    def __init__(self, pools: Pools, *, model_key: str, every: int, max_documents: int = 4, directory: Path | None = None) -> None:
        self.pools = pools
        self.model_key = model_key
        self.every = every
        self.max_documents = max_documents
        self.directory = Path(directory) if directory else None
        self._held: OrderedDict[int, _Held] = OrderedDict()
        self._index: dict[str, int] = {}  # chain hash -> id(owner)

    # ------------------------------------------------------------------ lookup

    def resume(self, ids: list[int]) -> SequenceCache | None:
        """A new sequence holding the longest checkpointed prefix of ids (never all of it: the last token
        must run to give logits), or None."""
        usable = [h for n, h in enumerate(chain_hashes(self.model_key, ids, self.every)) if (n + 1) * self.every < len(ids)]
        chain = next((h for h in reversed(usable) if h in self._index), None)
        if chain is None and self.directory is not None:
            on_disk = self._disk_index()  # read once per request, not once per boundary
            found = next((h for h in reversed(usable) if h in on_disk), None)
            if found is not None and self._load(on_disk[found]):
                chain = found
        if chain is None:
            return None
        held = self._held[self._index[chain]]
        self._held.move_to_end(id(held.owner))
        return held.owner.fork(held.checkpoints[chain])

    # ------------------------------------------------------------------ recording

    def record(self, owner: SequenceCache, checkpoints: dict[int, Checkpoint], *, save: bool = True) -> None:
        """Keep `owner` (its pages) and its checkpoints by token boundary; save to disk when a directory is set."""
        if not checkpoints:
            owner.free()
            return
        hashes = chain_hashes(self.model_key, owner.token_ids[:max(checkpoints)], self.every)
        by_hash = {hashes[length // self.every - 1]: cp for length, cp in checkpoints.items()}
        self._held[id(owner)] = _Held(owner, by_hash)
        for chain in by_hash:
            self._index[chain] = id(owner)
        while len(self._held) > self.max_documents:
            self._drop(next(iter(self._held)))
        if save and self.directory is not None:
            self._save(owner, by_hash)

    def _drop(self, key: int) -> None:
        held = self._held.pop(key)
        for chain in held.checkpoints:
            if self._index.get(chain) == key:
                del self._index[chain]
        held.owner.free()

    def clear(self) -> None:
        for key in list(self._held):
            self._drop(key)

    # ------------------------------------------------------------------ disk

    def _folder(self) -> Path:
        return self.directory / hashlib.sha256(self.model_key.encode()).hexdigest()[:16]

    def _save(self, owner: SequenceCache, by_hash: dict[str, Checkpoint]) -> None:
        from safetensors.torch import save_file

        last = max(cp.length for cp in by_hash.values())
        last_marks = next(cp for cp in by_hash.values() if cp.length == last).streams
        tensors: dict[str, torch.Tensor] = {}
        for number, (layer, marks) in enumerate(zip(owner.layers, last_marks)):
            for name, stream in layer.streams():
                tensors[f"rows.{number}.{name}"] = stream.rows.read(0, marks[name].rows).cpu().contiguous()
        checkpoints = []
        for chain, cp in by_hash.items():
            slot = len(checkpoints)
            checkpoints.append({"chain": chain, "length": cp.length, "slot": slot})
            for number, window in enumerate(cp.windows):
                tensors[f"cp{slot}.{number}.window"] = window.cpu().contiguous()
            for number, marks in enumerate(cp.streams):
                for name, mark in marks.items():
                    prefix = f"cp{slot}.{number}.{name}"
                    tensors[f"{prefix}.buffer_kv"] = mark.buffer_kv.cpu().contiguous()
                    tensors[f"{prefix}.buffer_gate"] = mark.buffer_gate.cpu().contiguous()
                    tensors[f"{prefix}.rows"] = torch.tensor([mark.rows])
                    if mark.overlap_kv is not None:
                        tensors[f"{prefix}.overlap_kv"] = mark.overlap_kv.cpu().contiguous()
                        tensors[f"{prefix}.overlap_gate"] = mark.overlap_gate.cpu().contiguous()
        folder = self._folder()
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{max(by_hash, key=lambda c: by_hash[c].length)}.safetensors"
        meta = {"format": str(_FORMAT), "model": self.model_key, "every": str(self.every),
                "tokens": json.dumps(owner.token_ids[:last]), "checkpoints": json.dumps(checkpoints)}
        handle, staging = tempfile.mkstemp(dir=folder, suffix=".partial")
        os.close(handle)
        save_file(tensors, staging, metadata=meta)
        os.replace(staging, folder / name)  # readers never see half a file
        index_path = folder / "index.json"
        index = self._disk_index()
        index.update({chain: name for chain in by_hash})
        handle, staging = tempfile.mkstemp(dir=folder, suffix=".partial")
        with os.fdopen(handle, "w") as out:
            json.dump(index, out)
        os.replace(staging, index_path)

    def _disk_index(self) -> dict[str, str]:
        """Chain hash -> file name of every document saved for this model."""
        index_path = self._folder() / "index.json"
        return json.loads(index_path.read_text()) if index_path.is_file() else {}

    def _load(self, name: str) -> bool:
        from safetensors import safe_open

        path = self._folder() / name
        if not path.is_file():
            return False
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata()
            if meta.get("format") != str(_FORMAT) or meta.get("model") != self.model_key or int(meta["every"]) != self.every:
                return False
            owner = SequenceCache.empty(self.pools)
            owner.token_ids = json.loads(meta["tokens"])
            owner.length = len(owner.token_ids)
            for number, layer in enumerate(owner.layers):
                device = layer.window.device
                for stream_name, stream in layer.streams():
                    stream.rows.append(handle.get_tensor(f"rows.{number}.{stream_name}").to(device))
            checkpoints: dict[int, Checkpoint] = {}
            for entry in json.loads(meta["checkpoints"]):
                slot = entry["slot"]
                windows, streams = [], []
                for number, layer in enumerate(owner.layers):
                    device = layer.window.device
                    windows.append(handle.get_tensor(f"cp{slot}.{number}.window").to(device))
                    marks = {}
                    for stream_name, _ in layer.streams():
                        prefix = f"cp{slot}.{number}.{stream_name}"
                        overlap = f"{prefix}.overlap_kv" in handle.keys()
                        marks[stream_name] = StreamMark(
                            rows=int(handle.get_tensor(f"{prefix}.rows")[0]),
                            buffer_kv=handle.get_tensor(f"{prefix}.buffer_kv").to(device),
                            buffer_gate=handle.get_tensor(f"{prefix}.buffer_gate").to(device),
                            overlap_kv=handle.get_tensor(f"{prefix}.overlap_kv").to(device) if overlap else None,
                            overlap_gate=handle.get_tensor(f"{prefix}.overlap_gate").to(device) if overlap else None,
                        )
                    streams.append(marks)
                checkpoints[entry["length"]] = Checkpoint(entry["length"], tuple(windows), tuple(streams))
        self.record(owner, checkpoints, save=False)
        return True
