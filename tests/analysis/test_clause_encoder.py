"""The fine-tuned passage encoder and the finder that re-reads the feature model's best passages with it: the
committed file (small, safetensors, the hash its training wrote down), how scores are blended and ordered, that
the first pass really uses it, and that training is deterministic."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from analysis.first_pass import clause_model, clause_reranker, passage_encoder
from analysis.first_pass.clause_model import ClauseHit
from analysis.first_pass.pipeline import read_first_pass
from analysis.first_pass.reranker_training import Example, train_encoder

SIBANNAC = "contracts_cuad/SIBANNAC,INC_12_04_2017-EX-2.1-Strategic Alliance Agreement"


def test_committed_encoder_is_small_safe_and_the_one_its_training_recorded():
    path = clause_reranker.ENCODER_PATH
    assert path.stat().st_size <= 25 * 2**20
    recorded = path.with_suffix(".sha256").read_text().split()  # as its training wrote it, `sha256sum -c` style
    assert recorded == [hashlib.sha256(path.read_bytes()).hexdigest(), path.name]
    encoder, extra = passage_encoder.load(path)
    assert encoder.categories == clause_model.ClauseModel.load().categories
    assert set(extra) == {"blend_weights", "blend_category_bias", "blend_suppress", "calibration_x", "calibration_y"}
    assert extra["blend_weights"][1] > 0  # the encoder's logit counts for a passage, as fitted
    assert np.all(np.diff(extra["calibration_y"].numpy()) > 0)  # strictly increasing: calibration keeps the order


def test_a_file_of_another_format_is_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "old.safetensors"
    save_file({"x": torch.zeros(1)}, str(path), metadata={"format": "0"})
    with pytest.raises(ValueError, match="make clause-model"):
        passage_encoder.load(path)


def test_the_frozen_word_embeddings_come_from_the_package_not_the_file():
    encoder, _ = passage_encoder.load(clause_reranker.ENCODER_PATH)
    from safetensors import safe_open

    with safe_open(str(clause_reranker.ENCODER_PATH), framework="pt") as handle:
        assert "bert.embeddings.word_embeddings.weight" not in handle.keys()
    from transformers import BertModel

    base = BertModel.from_pretrained(str(passage_encoder.base_model_dir()), add_pooling_layer=False)
    assert torch.equal(encoder.bert.embeddings.word_embeddings.weight, base.embeddings.word_embeddings.weight)
    # ...while the layers were fine-tuned: they differ from the pretrained ones.
    assert not torch.allclose(encoder.bert.encoder.layer[5].output.dense.weight,
                              base.encoder.layer[5].output.dense.weight)


def _hit(category, start, end, score):
    return ClauseHit(category, start, end, (), score)


def test_only_each_categorys_best_passages_are_re_read_and_the_rest_stay_below_them():
    hits = [_hit("Governing Law", i * 10, i * 10 + 9, 0.9 - i * 0.05) for i in range(14)]
    hits.append(_hit("Parties", 0, 5, 0.001))
    picked = clause_reranker.pick(hits, per_category=10)
    assert picked["Governing Law"] == list(range(10)) and picked["Parties"] == [14]
    spans = sorted({(h.start, h.end) for h in hits[:10]} | {(0, 5)})
    logits = np.zeros((len(spans), 2))
    read = clause_reranker.ReadPassages(hits, spans, logits, picked)
    blend = clause_reranker.Blend(np.ones(2), np.zeros(2), False, np.asarray([0.0, 1.0]), np.asarray([0.0, 1.0]))
    scored = clause_reranker.rescored(read, ["Parties", "Governing Law"], blend)
    law = [h for h in scored if h.category == "Governing Law"]
    assert [h.start for h in law] == [i * 10 for i in range(14)]  # order kept: the encoder had nothing to say
    assert min(h.score for h in law[:10]) > max(h.score for h in law[10:])  # tail below every re-read passage


def test_the_encoder_can_overturn_the_feature_models_order():
    hits = [_hit("Governing Law", 0, 9, 0.8), _hit("Governing Law", 10, 19, 0.6)]
    read = clause_reranker.ReadPassages(hits, [(0, 9), (10, 19)], np.asarray([[-4.0], [4.0]]),
                                        {"Governing Law": [0, 1]})
    blend = clause_reranker.Blend(np.ones(2), np.asarray([0.5]), False, np.asarray([0.0, 1.0]),
                                  np.asarray([0.0, 1.0]))
    first, second = clause_reranker.rescored(read, ["Governing Law"], blend)
    assert (first.start, second.start) == (10, 0)
    # sigmoid(logit(0.6) + 4 + the category's intercept 0.5) by hand, lifted above the tail
    by_hand = 1 / (1 + np.exp(-(np.log(0.6 / 0.4) + 4.0 + 0.5)))
    assert first.score == pytest.approx(clause_reranker.TAIL + (1 - clause_reranker.TAIL) * by_hand)


@pytest.fixture(scope="module")
def sibannac(corpus):
    return (corpus / (SIBANNAC + ".txt")).read_text()


def test_the_first_pass_uses_the_re_read_scores(sibannac, monkeypatch):
    monkeypatch.delenv("QUIRE_CLAUSE_FINDER", raising=False)
    reranked = clause_reranker.default_model()
    alone = reranked.finder.find(sibannac, minimum=0.05)
    result = read_first_pass(sibannac)  # what a report stores, with the default finder (QUIRE_CLAUSE_FINDER unset)
    stored = {(h.category, h.start, h.end): h.score for h in result.clauses}
    expected = {(h.category, h.start, h.end): h.score for h in reranked.find(sibannac, minimum=0.05)}
    assert stored == expected
    assert stored != {(h.category, h.start, h.end): h.score for h in alone}
    law = max((h for h in result.clauses if h.category == "Governing Law"), key=lambda h: h.score)
    assert "laws of" in sibannac[law.start:law.end].lower()


def test_quire_clause_finder_features_gives_the_feature_model_alone_and_a_bad_name_says_the_choices(
        sibannac, monkeypatch):
    monkeypatch.setenv("QUIRE_CLAUSE_FINDER", "features")
    stored = {(h.category, h.start, h.end): h.score for h in read_first_pass(sibannac).clauses}
    alone = clause_model.default_model().find(sibannac, minimum=0.05)
    assert stored == {(h.category, h.start, h.end): h.score for h in alone}
    monkeypatch.setenv("QUIRE_CLAUSE_FINDER", "bert")
    with pytest.raises(ValueError, match="QUIRE_CLAUSE_FINDER='bert' is not a clause finder: use one of encoder, "
                                         "features"):
        read_first_pass(sibannac)


def test_scoring_leaves_torchs_thread_count_as_it_found_it(sibannac):
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # not the first pass's own count (2 unless configured), so a leak would show
    try:
        clause_reranker.default_model().find(sibannac[:4000])
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_training_is_deterministic():
    rows = [Example("Governing Law", "This Agreement is governed by the laws of the State of New York.",
                    np.asarray([True, False])),
            Example("Payment", "Licensee shall pay a royalty of five percent of net sales each quarter.",
                    np.asarray([False, True])),
            Example("-", "IN WITNESS WHEREOF the parties have signed this Agreement.", np.asarray([False, False]))] * 6
    first = train_encoder(rows, ["Governing Law", "Royalty"], epochs=4)
    second = train_encoder(rows, ["Governing Law", "Royalty"], epochs=4)
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name
    tokenize = passage_encoder.tokenizer()
    scores = passage_encoder.logits(first, tokenize, [(r.heading, r.passage) for r in rows[:3]])
    assert scores[0, 0] > scores[1, 0] and scores[1, 1] > scores[0, 1]  # it learned from 8 steps


def test_importing_the_web_app_and_its_tasks_leaves_torch_unloaded():
    """The web processes import the pipeline but never run a first pass: torch (1.3 s and 180 MiB more each,
    bench/web_startup.py) comes in only when the encoder is first asked for (configured_finder)."""
    import subprocess
    import sys

    code = ("import os, sys, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'webapp.settings');"
            "django.setup();"
            "from django.urls import get_resolver; get_resolver().url_patterns;"
            "import webapp.pipeline.tasks, analysis.first_pass.pipeline;"
            "sys.exit('torch' in sys.modules)")
    subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], check=True)
