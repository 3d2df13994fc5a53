"""DeepSeek-V4 on a paged cache: the sliding window, compressed rows and indexer keys of V4's three layer kinds
(cache.py, pages.py), attention rebuilt over them in chunk-bounded PyTorch ops (kernels.py, forward.py), the
Engine protocol around it (engine.py) and document-cache reuse (prefix.py). transformers supplies the model,
its weights and every module but attention and cache. Never imports analysis/ or webapp/."""
