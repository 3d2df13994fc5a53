"""A playbook review of one whole document: one engine call with the document in context, the reply
checked against the playbook's schema (one repair retry), every quote anchored to its exact span and pages.

Nothing is invented here: a reply that cannot be used fails the review with its reason, and a quote the
document does not contain is kept but marked unverified, never shown as the document's words. Only when
the document does not fit the engine's context is it read in the fewest overlapping windows that fit,
and the review says how many.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

from analysis.anchoring import AnchorIndex
from analysis.errors import QuireError
from analysis.findings import (
    ModelOutputError,
    RawFinding,
    followup_schema,
    output_schema,
    parse_findings,
    parse_followup,
    partial_answer,
)
from analysis.first_pass.record import FirstPassRecord
from analysis.ingest.document import IngestedDocument
from analysis.playbooks import Playbook
from analysis.prompting import (
    as_json_schema,
    document_block,
    followup_messages,
    repair_messages,
    review_messages,
    strip_page_markers,
)
from engine.api import (
    CancelledError,
    Engine,
    GenerationProgress,
    GenerationRequest,
    GenerationResult,
    Stage,
    drain,
)

FORMAT = 1
DEFAULT_MAX_TOKENS = 8192
# Tokens kept free beside the document for the instructions, the item list and the chat template, where the
# review has not measured them.
PROMPT_MARGIN = 2048
# Measured prompt overhead plus this: chat-template tokens around each message and tokenizer seams.
TEMPLATE_SLACK = 128
# What one finding usually takes as JSON (key, short answer, a quote or two, risk note): sizes the item groups
# one reply is asked for. A reply cut off anyway is split again (_ask_items), so this only saves calls.
REPLY_TOKENS_PER_ITEM = 160
# The repair retry's own words ("That reply could not be used: ...") and the turn markers around them.
REPAIR_NOTE_TOKENS = 96
WINDOW_OVERLAP = 0.05
FIRST_PASS_MIN_SCORE = 0.5
_RISK_ORDER = {"none": 0, "low": 1, "medium": 2, "high": 3}


class ReviewFailedError(QuireError):
    code = "analysis_failed"


class ReviewCancelledError(QuireError):
    code = "cancelled"


@dataclass(frozen=True)
class Quote:
    text: str  # as the model wrote it
    verified: bool  # found in the document; only then are start/end/pages set
    start: int | None = None
    end: int | None = None
    pages: tuple[int, ...] = ()
    exact: bool = False
    score: float = 0.0


@dataclass(frozen=True)
class Finding:
    item: str
    title: str
    present: bool
    answer: str
    risk: str
    risk_note: str
    quotes: tuple[Quote, ...]


@dataclass(frozen=True)
class Review:
    playbook: str
    playbook_version: int
    model_id: str
    findings: tuple[Finding, ...]
    windows: int  # 1 when the whole document was read at once
    prompt_tokens: int
    generated_tokens: int
    cached_prompt_tokens: int
    prefill_seconds: float
    decode_seconds: float
    seconds: float
    repaired: bool
    cited_pages: tuple[int, ...]
    missed_by_model: tuple[str, ...]  # first-pass categories found in the text that the model marked absent
    test_model: bool = False
    unanswered: tuple[str, ...] = ()  # titles of the playbook items the model gave no answer for
    format: int = FORMAT
    extra: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return asdict(self)


ProgressCallback = Callable[[float, str], None] | None


def review(document: IngestedDocument, playbook: Playbook, engine: Engine, *, progress: ProgressCallback = None,
           cancel=None, first_pass: FirstPassRecord | None = None, max_tokens: int = DEFAULT_MAX_TOKENS,
           test_model: bool = False) -> Review:
    """Run `playbook` over the whole of `document` on `engine`; progress(fraction, step) as it goes.

    `max_tokens` is the longest reply allowed; a model whose context cannot hold that beside a document gets
    replies of at most half its context (reply_budget), and a playbook whose answers do not fit one reply is
    asked in groups of items, each group one call over the same document prefix. `first_pass` (the document's
    stored first pass) lists the confident clause categories the model answered absent (Review.missed_by_model)."""
    started = time.perf_counter()
    report = progress or (lambda fraction, step: None)
    reply_tokens = reply_budget(engine, max_tokens)
    groups = item_groups(playbook, reply_tokens)
    overhead = max(prompt_overhead(engine, group, windowed=True) for group in groups)
    windows = plan_windows(document, engine, max_tokens=reply_tokens, overhead=overhead)
    totals = {"prompt": 0, "generated": 0, "cached": 0, "prefill": 0.0, "decode": 0.0, "calls": 0}
    per_window: list[tuple[RawFinding, ...]] = []
    repaired = False
    calls = len(windows) * len(groups)
    for number, (first, last) in enumerate(windows, 1):
        pages = document.pages[first:last] if document.pages else ()
        block = document_block(document.text, pages)
        scope = (number, len(windows)) if len(windows) > 1 else None
        found: list[RawFinding] = []
        for part_number, group in enumerate(groups, 1):
            call = (number - 1) * len(groups) + part_number

            def on_progress(p: GenerationProgress, call=call, part_number=part_number, number=number) -> None:
                share = 0.85 * p.done / max(1, p.total) if p.stage == Stage.PREFILL else 0.85 + 0.15 * p.done / max(1, p.total)
                if p.stage == Stage.PREFILL:
                    label = f"Reading the document: {p.done:,} of {p.total:,} tokens"
                else:
                    label = f"Writing findings: {p.done:,} tokens"
                where = [f"window {number} of {len(windows)}"] if len(windows) > 1 else []
                where += [f"items part {part_number} of {len(groups)}"] if len(groups) > 1 else []
                if where:
                    label += f" ({', '.join(where)})"
                report(((call - 1) + min(1.0, share)) / calls, label)

            findings, used_repair = _ask_items(engine, block, group, scope, reply_tokens, on_progress, cancel, totals)
            repaired = repaired or used_repair
            found.extend(findings)
        per_window.append(tuple(found))
    merged = _merge(per_window)
    report(0.99, "Anchoring quotes")
    index = AnchorIndex(document.text, document.pages)
    findings = tuple(_anchored(raw, playbook, index) for raw in merged)
    cited = sorted({page for f in findings for q in f.quotes for page in q.pages})
    return Review(
        playbook=playbook.name, playbook_version=playbook.version, model_id=getattr(engine, "model_id", ""),
        findings=findings, windows=len(windows), prompt_tokens=totals["prompt"], generated_tokens=totals["generated"],
        cached_prompt_tokens=totals["cached"], prefill_seconds=totals["prefill"], decode_seconds=totals["decode"],
        seconds=time.perf_counter() - started, repaired=repaired, cited_pages=tuple(cited),
        missed_by_model=_missed(findings, playbook, first_pass), test_model=test_model,
        unanswered=tuple(item.title for item in playbook.items if item.key not in {f.item for f in findings}),
        extra={"reply_tokens": reply_tokens, "item_groups": len(groups), "calls": totals["calls"]},
    )


def reply_budget(engine: Engine, max_tokens: int) -> int:
    """The longest reply to ask for: `max_tokens`, but never more than half the engine's context, so a model
    with a small context (8,192 tokens) still has room for the document beside its answer."""
    return max(1, min(max_tokens, engine.max_context // 2))


def item_groups(playbook: Playbook, reply_tokens: int) -> list[Playbook]:
    """The playbook in as few parts as let each part's answers fit one reply (REPLY_TOKENS_PER_ITEM each)."""
    per_call = max(1, reply_tokens // REPLY_TOKENS_PER_ITEM)
    items = playbook.items
    if len(items) <= per_call:
        return [playbook]
    parts = -(-len(items) // per_call)
    size = -(-len(items) // parts)  # even parts: 41 items in 2 calls are 21 + 20, not 40 + 1
    return [replace(playbook, items=items[start:start + size]) for start in range(0, len(items), size)]


def prompt_overhead(engine: Engine, playbook: Playbook, *, windowed: bool = False) -> int:
    """Tokens a review prompt takes besides the document: system message, instructions, item list, template."""
    messages = review_messages(document_block("", ()), playbook, window=(1, 2) if windowed else None)
    return sum(engine.count_tokens(message.content) for message in messages) + TEMPLATE_SLACK


@dataclass(frozen=True)
class FollowupAnswer:
    answer: str
    quotes: tuple[Quote, ...]
    model_id: str
    prompt_tokens: int
    cached_prompt_tokens: int  # how much of the prompt (the document) the engine did not read again
    seconds: float


def ask_followup(document: IngestedDocument, question: str, engine: Engine, *, max_tokens: int = 1024,
                 cancel=None, on_answer: Callable[[str], None] | None = None) -> FollowupAnswer:
    """A question about the document, answered with anchored quotes; the document prefix is the review's.
    `on_answer` is called with the answer so far as the engine writes it (the reader watches it arrive; the
    quotes are anchored once the reply is whole)."""
    started = time.perf_counter()
    question = question.strip()
    if not question:
        raise ReviewFailedError("The question is empty.")
    messages = followup_messages(document_block(document.text, document.pages), question)
    schema = as_json_schema(followup_schema(), "quire_followup")
    totals = {"prompt": 0, "generated": 0, "cached": 0, "prefill": 0.0, "decode": 0.0}
    on_text = (lambda text: on_answer(partial_answer(text))) if on_answer is not None else None
    (answer, quotes), _ = _ask(engine, messages, schema, parse_followup, max_tokens, None, cancel, totals, on_text)
    index = AnchorIndex(document.text, document.pages)
    return FollowupAnswer(answer=answer, quotes=tuple(_quote(q, index) for q in quotes),
                          model_id=getattr(engine, "model_id", ""), prompt_tokens=totals["prompt"],
                          cached_prompt_tokens=totals["cached"], seconds=time.perf_counter() - started)


def plan_windows(document: IngestedDocument, engine: Engine, *, max_tokens: int,
                 overhead: int = PROMPT_MARGIN) -> list[tuple[int, int]]:
    """Page ranges [first, last) to read: one covering everything when it fits (the norm), else the fewest
    ranges of whole pages that fit, each overlapping the previous by about 5% of its tokens. `overhead`: the
    prompt's tokens besides the document (prompt_overhead)."""
    pages = document.pages
    budget = engine.max_context - max_tokens - overhead
    if budget <= 0:
        raise ReviewFailedError(f"The engine's context ({engine.max_context} tokens) leaves no room for a document "
                                f"beside {max_tokens} tokens of answer.")
    if not pages:
        return [(0, 0)]
    whole = engine.count_tokens(document.text)
    if whole <= budget:
        return [(0, len(pages))]
    sizes = [engine.count_tokens(document.text[p.start:p.end]) + 8 for p in pages]
    if max(sizes) > budget:
        raise ReviewFailedError(f"A single page holds {max(sizes)} tokens, more than the {budget} the engine has room for.")
    windows, first = [], 0
    while first < len(pages):
        used, last = 0, first
        while last < len(pages) and used + sizes[last] <= budget:
            used += sizes[last]
            last += 1
        windows.append((first, last))
        if last >= len(pages):
            break
        # Step back over about 5% of this window's tokens so a passage cut at the seam is read whole once.
        back, overlap = last, 0
        while back - 1 > first and overlap + sizes[back - 1] <= WINDOW_OVERLAP * used:
            back -= 1
            overlap += sizes[back]
        first = back if back > first else last
    return windows


def _ask_items(engine, block, playbook, scope, max_tokens, on_progress, cancel, totals):
    """One group of items over one window. A reply cut off at `max_tokens` while it still had several items to
    answer is not repaired (a retry would be cut off too) but asked again as two halves."""
    messages = review_messages(block, playbook, window=scope)
    schema = as_json_schema(output_schema(playbook), f"quire_{playbook.kind}_review")
    result = _generate(engine, messages, schema, max_tokens, on_progress, cancel, totals)
    if result.finish_reason == "length" and len(playbook.items) > 1:
        half = (len(playbook.items) + 1) // 2
        first, used_first = _ask_items(engine, block, replace(playbook, items=playbook.items[:half]), scope, max_tokens,
                                       on_progress, cancel, totals)
        second, used_second = _ask_items(engine, block, replace(playbook, items=playbook.items[half:]), scope, max_tokens,
                                         on_progress, cancel, totals)
        return first + second, used_first or used_second
    return _parse_or_repair(engine, messages, result, schema, lambda text: parse_findings(text, playbook), max_tokens,
                            on_progress, cancel, totals)


def _ask(engine, messages, schema, parse, max_tokens, on_progress, cancel, totals, on_text=None):
    """parse(reply) and whether the one repair retry was needed; ReviewFailedError when neither reply parses."""
    result = _generate(engine, messages, schema, max_tokens, on_progress, cancel, totals, on_text)
    return _parse_or_repair(engine, messages, result, schema, parse, max_tokens, on_progress, cancel, totals, on_text)


def _parse_or_repair(engine, messages, result, schema, parse, max_tokens, on_progress, cancel, totals, on_text=None):
    try:
        return parse(result.text), False
    except ModelOutputError as problem:
        first_problem = problem.message if result.finish_reason != "length" else f"{problem.message} (the reply was cut off at {max_tokens} tokens)"
    shown = _what_fits(engine, result, max_tokens)
    retry = _generate(engine, repair_messages(messages, shown, first_problem), schema, max_tokens, on_progress,
                      cancel, totals, on_text)
    try:
        return parse(retry.text), True
    except ModelOutputError as again:
        raise ReviewFailedError(f"The model's reply could not be used, even after one retry: {again.message}") from None


def _what_fits(engine, result: GenerationResult, max_tokens: int) -> str:
    """As much of the bad reply as the repair prompt can show and still leave `max_tokens` for the new reply:
    the original prompt already used its share of the context, so a long bad reply is cut, or left out."""
    room = engine.max_context - result.prompt_tokens - max_tokens - REPAIR_NOTE_TOKENS
    if result.generated_tokens <= room:
        return result.text
    if room < 256:  # a fragment shorter than this tells the model little: the problem alone is asked about
        return ""
    return result.text[: len(result.text) * room // max(1, result.generated_tokens)]


def _generate(engine, messages, schema, max_tokens, on_progress, cancel, totals, on_text=None):
    """`on_text`: called with the reply so far as it streams (else the reply is awaited whole)."""
    request = GenerationRequest(messages=messages, max_tokens=max_tokens, temperature=0.0, response_format=schema)
    result = engine.generate(request, on_progress=on_progress, cancel=cancel) if on_text is None else \
        _streamed(engine, request, on_progress, cancel, on_text)
    if result.finish_reason == "cancelled":
        raise ReviewCancelledError("The analysis was cancelled.")
    totals["prompt"] += result.prompt_tokens
    totals["generated"] += result.generated_tokens
    totals["cached"] += result.cached_prompt_tokens
    totals["prefill"] += result.prefill_seconds or 0.0
    totals["decode"] += result.decode_seconds or 0.0
    totals["calls"] = totals.get("calls", 0) + 1
    return result


def _streamed(engine, request, on_progress, cancel, on_text) -> GenerationResult:
    try:
        return drain(engine.stream(request, on_progress=on_progress, cancel=cancel), on_text)
    except CancelledError:
        raise ReviewCancelledError("The analysis was cancelled.") from None


def _merge(per_window: list[tuple[RawFinding, ...]]) -> list[RawFinding]:
    """Windows' answers per item: present if any window found it, quotes from all, the highest risk."""
    if len(per_window) == 1:
        return list(per_window[0])
    merged: dict[str, RawFinding] = {}
    for findings in per_window:
        for f in findings:
            old = merged.get(f.item)
            if old is None:
                merged[f.item] = f
                continue
            present = old.present or f.present
            answer = old.answer if old.present or not f.present else f.answer
            if old.present and f.present and f.answer and f.answer != old.answer:
                answer = f"{old.answer} / {f.answer}"
            quotes = tuple(dict.fromkeys(old.quotes + f.quotes))
            worst = max((old, f), key=lambda x: _RISK_ORDER[x.risk])
            merged[f.item] = RawFinding(f.item, present, answer, quotes, worst.risk, worst.risk_note)
    return list(merged.values())


def _quote(text: str, index: AnchorIndex) -> Quote:
    found = index.find(strip_page_markers(text))
    if found is None:
        return Quote(text=text, verified=False)
    return Quote(text=text, verified=True, start=found.start, end=found.end, pages=found.pages, exact=found.exact,
                 score=round(found.score, 4))


def _anchored(raw: RawFinding, playbook: Playbook, index: AnchorIndex) -> Finding:
    item = playbook.item(raw.item)
    return Finding(item=raw.item, title=item.title if item else raw.item, present=raw.present, answer=raw.answer,
                   risk=raw.risk, risk_note=raw.risk_note, quotes=tuple(_quote(q, index) for q in raw.quotes))


def _missed(findings: tuple[Finding, ...], playbook: Playbook, first_pass: FirstPassRecord | None) -> tuple[str, ...]:
    """Categories the first pass found with some confidence where the model answered absent (or not at all)."""
    if first_pass is None or not first_pass.available or playbook.kind != "contract":
        return ()
    # CUAD's label files capitalise some categories differently ("Cap On Liability"): compare folded.
    titles = {item.title.casefold(): item.title for item in playbook.items}
    present = {f.title.casefold() for f in findings if f.present}
    found = {category.casefold() for category in first_pass.categories_at(FIRST_PASS_MIN_SCORE)}
    return tuple(sorted(titles[key] for key in (found & titles.keys()) - present))
