"""Paged storage for DeepSeek-V4's compressed rows: one pool of fixed-size pages per stream and layer,
and per sequence a block table naming the pages that hold its rows in order.

V4's compressed KV (one row per 4 tokens on CSA layers, per 128 on HCA layers) and the indexer's keys
only ever grow at the end, so a sequence is an append-only list of rows. Keeping them in pages rather
than one tensor that is re-concatenated per chunk means a chunk costs its own rows, not the whole
history, and a sequence forked from a saved document shares every full page of it (reference counted)
and copies only the last, partly filled one.
"""

from __future__ import annotations

import torch


class PagePool:
    """Pages of `page_rows` x `width` rows on one device; grows by doubling when a sequence needs more."""

    def __init__(self, width: int, *, page_rows: int, dtype: torch.dtype, device: torch.device | str, pages: int = 8) -> None:
        self.width = width
        self.page_rows = page_rows
        self.storage = torch.zeros(pages, page_rows, width, dtype=dtype, device=device)
        self._refs = [0] * pages
        self._free = list(range(pages - 1, -1, -1))

    @property
    def pages(self) -> int:
        return self.storage.shape[0]

    @property
    def used_pages(self) -> int:
        return self.pages - len(self._free)

    def nbytes(self) -> int:
        return self.storage.numel() * self.storage.element_size()

    def page_bytes(self) -> int:
        return self.page_rows * self.width * self.storage.element_size()

    def allocate(self) -> int:
        if not self._free:
            self._grow()
        page = self._free.pop()
        self._refs[page] = 1
        return page

    def retain(self, page: int) -> None:
        self._refs[page] += 1

    def release(self, page: int) -> None:
        self._refs[page] -= 1
        if self._refs[page] == 0:
            self._free.append(page)

    def _grow(self) -> None:
        old = self.pages
        grown = torch.zeros(old * 2, self.page_rows, self.width, dtype=self.storage.dtype, device=self.storage.device)
        grown[:old] = self.storage
        self.storage = grown
        self._refs.extend([0] * old)
        self._free.extend(range(2 * old - 1, old - 1, -1))


class PagedRows:
    """One sequence's rows in a pool: its block table and row count."""

    def __init__(self, pool: PagePool) -> None:
        self.pool = pool
        self.table: list[int] = []
        self.rows = 0
        self._table_tensor: torch.Tensor | None = None

    def append(self, rows: torch.Tensor) -> None:
        size = self.pool.page_rows
        done = 0
        while done < rows.shape[0]:
            offset = self.rows % size
            if offset == 0:
                self.table.append(self.pool.allocate())
                self._table_tensor = None
            take = min(size - offset, rows.shape[0] - done)
            self.pool.storage[self.table[-1], offset:offset + take] = rows[done:done + take]
            done += take
            self.rows += take

    def physical(self, logical: torch.Tensor) -> torch.Tensor:
        """Row ids in the pool's flat storage (pool.storage.view(-1, width)) of logical rows."""
        if self._table_tensor is None:
            self._table_tensor = torch.tensor(self.table, dtype=torch.long, device=self.pool.storage.device)
        size = self.pool.page_rows
        return self._table_tensor[logical // size] * size + logical % size

    def read(self, start: int, end: int) -> torch.Tensor:
        """Rows [start, end) as one tensor (a copy gathered from their pages)."""
        flat = self.pool.storage.view(-1, self.pool.width)
        logical = torch.arange(start, end, device=flat.device)
        return flat.index_select(0, self.physical(logical))

    def gather(self, index: torch.Tensor) -> torch.Tensor:
        """Rows at logical positions `index` (any shape, values in [0, rows)); result index.shape + (width,)."""
        flat = self.pool.storage.view(-1, self.pool.width)
        return flat.index_select(0, self.physical(index.reshape(-1))).view(*index.shape, self.pool.width)

    def fork(self, rows: int) -> PagedRows:
        """A new sequence holding this one's first `rows` rows: full pages shared, a partial last page copied."""
        if rows > self.rows:
            raise ValueError(f"cannot fork {rows} rows from a sequence of {self.rows}")
        child = PagedRows(self.pool)
        size = self.pool.page_rows
        full, partial = divmod(rows, size)
        for page in self.table[:full]:
            self.pool.retain(page)
            child.table.append(page)
        child.rows = full * size
        if partial:
            child.append(self.pool.storage[self.table[full], :partial].clone())
        return child

    def free(self) -> None:
        for page in self.table:
            self.pool.release(page)
        self.table = []
        self.rows = 0
        self._table_tensor = None
