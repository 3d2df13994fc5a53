"""Train, locally and in seconds, the small byte-level BPE tokenizer that tiny test models ship with.

Its job is to give random-weight models a real tokenizer (special tokens, chat template, any text
round-trips) so they load through the same code as a real checkpoint. It must never download a
tokenizer or reach the network, and it must never be mistaken for a real model's tokenizer.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

BOS = "<|begin_of_text|>"
EOS = "<|end_of_text|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
PAD = "<|pad|>"
# Order fixes their ids (0..4): the trainer places special tokens first, in this order.
SPECIAL_TOKENS = (BOS, EOS, IM_START, IM_END, PAD)

DEFAULT_CORPUS = Path("/work/shared/corpus/cuad_train")
# A few MB of contracts already give merges that look like English; more only costs training time.
CORPUS_CHAR_BUDGET = 4_000_000
DEFAULT_VOCAB = 4096
# Bumped whenever the training recipe changes, so stale cached tokenizers are not reused.
RECIPE_VERSION = "1"

# ChatML, as Qwen uses it, with the BOS a Llama-3-style template puts first. The tokenizer itself
# adds no special tokens, so the BOS is never doubled when a rendered prompt is tokenized.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Used where the shared corpus is absent (another machine, CI): enough for a few hundred merges.
FALLBACK_TEXT = """\
This Agreement is entered into as of the Effective Date by and between the Company and the
Consultant. The parties agree as follows. 1. Services. The Consultant shall provide the services
described in Exhibit A with reasonable skill and care. 2. Term. This Agreement shall commence on
the Effective Date and continue for a period of two (2) years unless terminated earlier in
accordance with Section 9. 3. Fees. The Company shall pay the Consultant the fees set out in
Exhibit B within thirty (30) days of receipt of a valid invoice. 4. Confidentiality. Each party
shall keep confidential all information disclosed by the other party and shall not use it for any
purpose other than the performance of this Agreement. 5. Intellectual Property. All rights, title
and interest in the deliverables shall vest in the Company upon payment. 6. Limitation of
Liability. Neither party shall be liable for any indirect, incidental or consequential damages.
7. Governing Law. This Agreement shall be governed by the laws of the State of New York.
8. Assignment. Neither party may assign this Agreement without the prior written consent of the
other party, which shall not be unreasonably withheld. 9. Termination. Either party may terminate
this Agreement upon thirty (30) days' written notice to the other party. 10. Notices. All notices
shall be in writing and delivered by hand, by courier or by email to the addresses set out above.
The annual report describes the results of operations, the financial condition and the risks the
company faces, including market risk, credit risk, liquidity risk and operational risk.
"""


def corpus_documents(corpus: Path | None = None, *, char_budget: int = CORPUS_CHAR_BUDGET) -> list[str]:
    """The training text, one string per file: the corpus's .txt files in name order, up to `char_budget` characters."""
    folder = DEFAULT_CORPUS if corpus is None else Path(corpus)
    parts: list[str] = []
    total = 0
    if folder.is_dir():
        for path in sorted(folder.glob("*.txt")):
            text = path.read_text(encoding="utf-8", errors="replace")
            parts.append(text[: char_budget - total])
            total += len(parts[-1])
            if total >= char_budget:
                break
    if not parts:
        # Repeated so pair counts are high enough for the trainer to merge beyond single bytes.
        return [FALLBACK_TEXT] * 20
    return parts


def train_tokenizer(*, vocab: int = DEFAULT_VOCAB, corpus: Path | None = None, model_max_length: int = 131072) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on the corpus and wrap it with the special tokens and chat template set."""
    if vocab < 256 + len(SPECIAL_TOKENS):
        # Byte-level BPE needs every byte as a token, or some text could not be encoded at all.
        raise ValueError(f"vocab must be at least {256 + len(SPECIAL_TOKENS)} (256 bytes + special tokens); got {vocab}.")
    documents = corpus_documents(corpus)
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(documents, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=[IM_START, IM_END],
        chat_template=CHAT_TEMPLATE,
        model_max_length=model_max_length,
        # Byte-level BPE already round-trips; "clean up" would eat spaces before punctuation.
        clean_up_tokenization_spaces=False,
    )


def default_cache_dir() -> Path:
    return Path(os.environ.get("QUIRE_CACHE_DIR") or Path.home() / ".cache" / "quire")


def cached_tokenizer(
    *, vocab: int = DEFAULT_VOCAB, corpus: Path | None = None, cache_dir: Path | None = None, model_max_length: int = 131072
) -> PreTrainedTokenizerFast:
    """The tokenizer for (vocab, corpus text), trained once and then loaded from the cache.

    Keyed by a hash of the training text itself, so editing the corpus retrains rather than reusing a
    tokenizer that no longer matches it. Safe when two processes train at once: each writes a temp
    folder and the first rename wins.
    """
    hasher = hashlib.sha256(f"{RECIPE_VERSION}\0{vocab}".encode())
    for document in corpus_documents(corpus):
        hasher.update(b"\0" + document.encode("utf-8", errors="replace"))
    digest = hasher.hexdigest()[:16]
    root = (default_cache_dir() if cache_dir is None else Path(cache_dir)) / "tokenizers"
    target = root / f"bpe-{vocab}-{digest}"
    if not (target / "tokenizer.json").is_file():
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
        try:
            save_tokenizer(train_tokenizer(vocab=vocab, corpus=corpus), staging)
            publish_dir(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(target)
    # Not part of the cache key: the same merges serve every context length.
    tokenizer.model_max_length = model_max_length
    return tokenizer


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, out_dir: Path) -> None:
    """Save as a checkpoint's tokenizer files, with `unk_token` pinned to null as Qwen2.5 ships it.

    Without it, AutoTokenizer on a qwen2 checkpoint builds Qwen2Tokenizer, whose default unk
    "<|endoftext|>" becomes a token past the model's vocab: one id the embedding cannot look up.
    """
    tokenizer.save_pretrained(out_dir)
    config_path = Path(out_dir) / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["unk_token"] = None
    # Loading-time flags that save_pretrained echoes back; they describe where it was loaded from, not the tokenizer.
    for key in ("is_local", "local_files_only"):
        config.pop(key, None)
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def publish_dir(staging: Path, target: Path) -> None:
    """Move a fully written folder into place atomically; if another process got there first, keep theirs."""
    try:
        os.replace(staging, target)
    except OSError:
        # A non-empty target cannot be replaced: someone else finished the same build first.
        if not target.is_dir():
            raise
