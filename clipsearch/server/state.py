"""What one server process shares between requests: the open index, the model (loaded on first
need), recent text vectors, and thumbnails cached in the index folder."""

from __future__ import annotations

import io
import os
import stat
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from ..atomic import atomic_path
from ..config import IndexLocation
from ..errors import IndexNotFoundError
from ..ingest.picture import item_picture
from ..models.encoder import Encoder
from ..query.search import Searcher
from ..store.catalog import ItemRow
from ..store.folder import IndexStore

THUMBNAIL_SIZE = 256
TEXT_CACHE_SIZE = 1024


class ServerState:
    """What one server process shares between requests."""

    def __init__(self, location: IndexLocation, device: str | None, loader: Any) -> None:
        from .. import api

        self.store = IndexStore.open(location)
        self.lock = threading.RLock()
        self._encoder: Encoder | None = None
        self._load = api.encoder_factory(self.store, device=device, **({"loader": loader} if loader else {}))
        self.searcher = Searcher(self.store, self.encoder)
        self._texts: OrderedDict[str, np.ndarray] = OrderedDict()
        self.thumbnails = self.store.path / "thumbnails"

    def encoder(self) -> Encoder:
        with self.lock:
            if self._encoder is None:
                self._encoder = self._load()
            return self._encoder

    def text_vector(self, text: str) -> np.ndarray:
        with self.lock:
            if text in self._texts:
                self._texts.move_to_end(text)
                return self._texts[text]
            vec = self.searcher.text_vector(text)
            self._texts[text] = vec
            if len(self._texts) > TEXT_CACHE_SIZE:
                self._texts.popitem(last=False)
            return vec

    def row(self, item_id: int) -> ItemRow:
        row = self.store.catalog.get([item_id]).get(item_id)
        if row is None:
            raise IndexNotFoundError(f"no item {item_id}")
        return row

    def current_file(self, row: ItemRow) -> str:
        """The item's file, if it is still the regular file that was indexed."""
        try:
            st = os.stat(row.path)
        except OSError as err:
            raise IndexNotFoundError(f"item {row.id}: its file is gone") from err
        if not stat.S_ISREG(st.st_mode) or (st.st_size, st.st_mtime_ns) != (row.size, row.mtime_ns):
            raise IndexNotFoundError(f"item {row.id}: its file changed since it was indexed; run index again")
        return row.path

    def thumbnail(self, row: ItemRow) -> bytes:
        path = self.current_file(row)
        cached = self.thumbnails / f"{row.id}-{row.mtime_ns}-{row.page}.webp"
        if cached.is_file():
            return cached.read_bytes()
        image = item_picture(path, row.page, row.time, THUMBNAIL_SIZE)
        image.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        buf = io.BytesIO()
        image.save(buf, "WEBP", quality=80)
        data = buf.getvalue()
        with atomic_path(cached) as tmp:
            tmp.write_bytes(data)
        return data
