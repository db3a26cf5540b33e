"""A large token-embedding table kept out of the exported text graph, memory-mapped, gathered row by row.

SigLIP2's Gemma vocabulary (256k x 768), XLM-R's (250k x 768) and MetaCLIP 2's XLM-V (900k x 1024)
make the embedding table most of a text tower: 0.8-3.7 GB in fp32. ONNX Runtime reads every
initializer when it opens a session, so one query of a few words would pay for the whole table
(SigLIP2's text graph opened in twice the time of CLIP's; `make bench`: cold_query_s).
Instead the export writes the table as a float16 ``.npy`` file and traces the text graph with
the looked-up rows as an input (``embedded``) beside the tokens (still needed for positions,
attention masks and pooling). A query memory-maps the file and gathers only its tokens' rows: a
few pages of disk. float16 rows change the text vectors by cosine < 1e-5 (tested against open_clip).

The tokens -> rows step is open_clip's / transformers' own ``nn.Embedding``: it is swapped, for
the trace only, for a module that returns the given rows, so the traced graph is everything after
the lookup, unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

#: Tables of at least this many values (64M: 256 MB in fp32) leave the graph; CLIP's (25M) stays.
SPLIT_VALUES = 64 * 2**20
FILE = "text_table.npy"
#: The text graph's input of gathered rows (beside ``tokens``).
ROWS_INPUT = "embedded"


def token_table(model: Any) -> tuple[Any, str, Any] | None:
    """(parent module, attribute, nn.Embedding) of the text tower's token table, or None: the
    largest embedding outside the image tower, when it is large enough to leave the graph."""
    import torch

    best = None
    for name, module in model.named_modules():
        if name.startswith("visual") or not isinstance(module, torch.nn.Embedding):
            continue
        if best is None or module.weight.numel() > best[1].weight.numel():
            best = (name, module)
    if best is None or best[1].weight.numel() < SPLIT_VALUES:
        return None
    parent_name, _, attr = best[0].rpartition(".")
    return model.get_submodule(parent_name) if parent_name else model, attr, best[1]


def save_table(table: Any, folder: Path) -> str:
    """Write the table's rows as float16 ``.npy`` into ``folder``; returns the file name."""
    np.save(folder / FILE, table.weight.detach().cpu().float().numpy().astype(np.float16))
    return FILE


@contextlib.contextmanager
def given_rows(parent: Any, attr: str) -> Iterator[Any]:
    """Swap ``parent.attr`` (the token table) for a module that returns rows set on it, for a trace."""
    import torch

    class Given(torch.nn.Module):
        value: Any = None

        def forward(self, tokens: Any) -> Any:
            return self.value

    original = getattr(parent, attr)
    given = Given()
    setattr(parent, attr, given)
    try:
        yield given
    finally:
        setattr(parent, attr, original)


class Table:
    """The memory-mapped rows at query time: tokens (N, L) -> float32 (N, L, width)."""

    def __init__(self, path: Path) -> None:
        self.rows = np.load(path, mmap_mode="r")

    def __call__(self, tokens: np.ndarray) -> np.ndarray:
        flat = np.asarray(tokens, np.int64).reshape(-1)
        return np.asarray(self.rows[flat], np.float32).reshape(*tokens.shape, self.rows.shape[1])
