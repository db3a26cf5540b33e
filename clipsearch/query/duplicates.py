"""Near-duplicate groups: exact copies, perceptual matches and semantic (CLIP) matches.

Candidate pairs come from real indexes, never from all pairs in Python: exact copies share a
content hash; perceptual matches come from a FAISS binary index range search over 128-bit codes
(Hamming distance); semantic matches from a FAISS range search over the CLIP vectors.

Grouping does not chain: a group is a centre (the member with the most matches) and the items that
match the centre directly, so A~B and B~C never puts A with C unless A~C's centre says so. Each
member carries its evidence against the centre; the suggested keeper is the largest picture, then
the largest file, then the oldest.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select

from ..config import DEFAULT_MAX_DISTANCE, DUPLICATE_TIERS
from ..errors import UsageError
from ..ingest.images import is_raw_path
from ..ingest.phash import CODE_BYTES, has_structure
from ..store.catalog import ItemRow
from ..store.dialect import insert_new
from ..store.folder import IndexStore
from ..store.schema import DISMISSED
from .categories import Categories
from .filters import Filters

TIERS = DUPLICATE_TIERS
#: Cosine above which two pictures count as the same picture, per model (model facts as data).
SEMANTIC_THRESHOLDS = {"ViT-B-32-256": 0.95, "ViT-B-32": 0.95, "ViT-B-16": 0.94, "ViT-L-14": 0.93}
DEFAULT_SEMANTIC_THRESHOLD = 0.95
_RANK = {t: i for i, t in enumerate(TIERS)}


@dataclass
class Member:
    item: ItemRow
    tier: str  # evidence against the group's centre ("centre" for the centre itself)
    distance: float | None  # Hamming bits (perceptual), cosine (semantic), 0 (exact)
    keeper: bool = False
    #: A revision's differences from the keeper: ``{"from", "to", "from_box", "to_box"}`` each.
    changes: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.item.id,
            "path": self.item.path,
            "tier": self.tier,
            "distance": self.distance,
            "keeper": self.keeper,
            "width": self.item.width,
            "height": self.item.height,
            "size": self.item.size,
        }
        if self.item.page:
            data["page"] = self.item.page
        if self.changes:
            data["changes"] = self.changes
        return data


@dataclass
class Group:
    key: str
    tier: str  # the weakest evidence in the group
    members: list[Member] = field(default_factory=list)

    @property
    def keeper(self) -> Member:
        return next(m for m in self.members if m.keeper)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"group": self.key, "tier": self.tier, "keeper": self.keeper.item.path}
        if self.keeper.item.page:
            data["keeper_page"] = self.keeper.item.page
        return {**data, "items": [m.to_dict() for m in self.members]}


def semantic_threshold(model_name: str) -> float:
    return SEMANTIC_THRESHOLDS.get(model_name, DEFAULT_SEMANTIC_THRESHOLD)


def default_tiers(store: IndexStore) -> tuple[str, ...]:
    """All tiers that apply: semantic only for real models (a toy model's cosine means little)."""
    return TIERS if not store.model.toy else tuple(t for t in TIERS if t != "semantic")


#: Formats that keep every pixel: at the same size, such a file holds at least what a JPEG of it holds.
_LOSSLESS = (".png", ".tif", ".tiff", ".bmp", ".gif")


def _keeper_order(row: ItemRow, layered: frozenset[int] = frozenset()) -> tuple[bool, bool, int, int, bool, int]:
    """Which copy to keep: a camera's JPEG over its RAW (the JPEG is what was developed), a PDF page
    with a text layer over its image-only copy (vector and searchable, whatever its pixel size), the
    largest picture, then the oldest file (a copy is made after its original: a PNG saved from a
    JPEG holds no more than the JPEG did), a lossless file, the largest file."""
    lossy = not row.path.lower().endswith(_LOSSLESS) and not row.page
    return (is_raw_path(row.path), row.id not in layered, -(row.width * row.height), row.mtime_ns, lossy, -row.size)


def _revision_order(row: ItemRow, layered: frozenset[int] = frozenset()) -> tuple[int, int]:
    """Which revision leads its group: the newest (its file's time), the others read as changes
    from them to it."""
    return (-row.mtime_ns, row.id)


#: Developed pictures a camera writes beside its RAW file, with the same name.
_DEVELOPED = (".jpg", ".jpeg", ".heic", ".heif")


def raw_pairs(rows: Sequence[ItemRow], pairs: Pairs) -> None:
    """A RAW file and a JPEG/HEIC of the same name in the same folder: one shot, saved twice."""
    by_shot: dict[tuple[str, str], list[ItemRow]] = {}
    for r in rows:
        stem, ext = os.path.splitext(r.path)
        if is_raw_path(r.path) or ext.lower() in _DEVELOPED:
            by_shot.setdefault((os.path.dirname(r.path), os.path.basename(stem).lower()), []).append(r)
    for shot in by_shot.values():
        raws = [r for r in shot if is_raw_path(r.path)]
        for raw in raws:
            for developed in shot:
                if developed not in raws:
                    _add(pairs, raw.id, developed.id, "raw-pair", 0.0)


def _group_key(rows: Iterable[ItemRow]) -> str:
    names = sorted(f"{r.path}#{r.page}" for r in rows)
    return hashlib.blake2b("\n".join(names).encode(), digest_size=5).hexdigest()


Pairs = dict[tuple[int, int], tuple[str, float]]


def _add(pairs: Pairs, a: int, b: int, tier: str, value: float) -> None:
    key = (a, b) if a < b else (b, a)
    old = pairs.get(key)
    if old is None or _RANK[tier] < _RANK[old[0]]:
        pairs[key] = (tier, value)


def exact_pairs(rows: Sequence[ItemRow], pairs: Pairs) -> None:
    by_hash: dict[tuple[str, int], list[int]] = {}
    for r in rows:
        by_hash.setdefault((r.content_hash, r.page), []).append(r.id)
    for ids in by_hash.values():
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                _add(pairs, a, b, "exact", 0.0)


def perceptual_pairs(
    ids: np.ndarray, codes: np.ndarray, max_distance: int, pairs: Pairs, block: int = 65_536, chunk: int = 16_384
) -> None:
    """Hamming range search with FAISS binary indexes (exact; popcount kernels), blocked for cache.

    The codes are split into database blocks small enough to stay in cache (64k x 16 bytes); each
    block is searched only by the items before its end, so every pair is found once, with half the
    work of all-against-all and none of the memory traffic of one huge index.
    """
    import faiss

    if len(ids) < 2:
        return
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    for db_start in range(0, len(codes), block):
        db_end = min(db_start + block, len(codes))
        index = faiss.IndexBinaryFlat(CODE_BYTES * 8)
        index.add(codes[db_start:db_end])
        for q_start in range(0, db_end, chunk):
            q_end = min(q_start + chunk, db_end)
            lims, dist, found = index.range_search(codes[q_start:q_end], max_distance + 1)
            for q in np.nonzero(np.diff(lims.astype(np.int64)))[0]:
                a = int(ids[q_start + q])
                for d, j in zip(dist[lims[q] : lims[q + 1]], found[lims[q] : lims[q + 1]], strict=True):
                    if db_start + int(j) > q_start + q:
                        _add(pairs, a, int(ids[db_start + int(j)]), "perceptual", float(d))


def semantic_pairs(store: IndexStore, ids: np.ndarray, threshold: float, pairs: Pairs, chunk: int = 4096) -> None:
    """Cosine range search over the CLIP vectors in the index."""
    vi = store.vectors()
    wanted = set(ids.tolist())
    vectors = store.catalog.vectors(ids.tolist(), store.model.dim)
    for start in range(0, len(ids), chunk):
        lims, sims, found = vi.range_search(vectors[start : start + chunk], threshold)
        for q in range(len(lims) - 1):
            a = int(ids[start + q])
            for s, b in zip(sims[lims[q] : lims[q + 1]], found[lims[q] : lims[q + 1]], strict=True):
                if int(b) > a and int(b) in wanted:
                    _add(pairs, a, int(b), "semantic", float(s))


def dismissed_pairs(store: IndexStore) -> set[tuple[int, int]]:
    with store.catalog.engine.connect() as conn:
        return {(r.a, r.b) for r in conn.execute(select(DISMISSED))}


def group_pairs(rows: dict[int, ItemRow], pairs: Pairs, changes: dict[tuple[int, int], Any] | None = None,
                tier: str | None = None, layered: frozenset[int] = frozenset()) -> list[Group]:  # fmt: skip
    """Groups around their keepers, best evidence first; ``tier`` names every group (revisions,
    documents), else a group is named by its weakest evidence.

    Groups never chain: a group is its keeper and the items that match the keeper directly, so
    A~B and B~C never puts A with C unless A~C. The seed is the item with the most matches; the
    group then moves to the best keeper among them until the keeper is its own best."""
    order = _revision_order if tier == "revision" else _keeper_order
    neighbours: dict[int, dict[int, tuple[str, float]]] = {}
    for (a, b), ev in pairs.items():
        neighbours.setdefault(a, {})[b] = ev
        neighbours.setdefault(b, {})[a] = ev
    unassigned = set(neighbours)
    groups: list[Group] = []
    while unassigned:
        keeper = max(unassigned, key=lambda i: (sum(n in unassigned for n in neighbours[i]), -i))
        while True:  # each step strictly improves the keeper order: it ends
            near = {n: ev for n, ev in neighbours[keeper].items() if n in unassigned}
            best = min([keeper, *near], key=lambda i: order(rows[i], layered))
            if best == keeper:
                break
            keeper = best
        if not near:
            unassigned.discard(keeper)
            continue
        members = [Member(rows[keeper], "centre", None, keeper=True)] + [
            Member(rows[n], t, value, changes=_changes(changes, n, keeper)) for n, (t, value) in sorted(near.items())
        ]
        unassigned -= {keeper, *near}
        weakest = tier or max((m.tier for m in members[1:]), key=lambda t: _RANK[t])
        groups.append(Group(_group_key(m.item for m in members), weakest, members))

    def strength(g: Group) -> tuple[int, float]:
        values = [m.distance or 0.0 for m in g.members if m.tier != "centre"]
        mean = float(np.mean(values)) if values else 0.0
        return (_RANK[g.tier], -mean if g.tier == "semantic" else mean)

    return sorted(groups, key=strength)


def _changes(changes: dict[tuple[int, int], Any] | None, member: int, keeper: int) -> list[dict[str, Any]]:
    """A revision's differences, read from the member to the group's lead (an older revision to the
    newest): ``from`` the member's words, ``to`` the lead's."""
    if not changes:
        return []
    if (member, keeper) in changes:
        return changes[(member, keeper)]
    return [{"from": c["to"], "to": c["from"], "from_box": c["to_box"], "to_box": c["from_box"]}
            for c in changes.get((keeper, member), [])]  # fmt: skip


def find_duplicates(
    store: IndexStore,
    *,
    by: Sequence[str] | None = None,
    max_distance: int = DEFAULT_MAX_DISTANCE,
    min_similarity: float | None = None,
    filters: Filters | None = None,
) -> list[Group]:
    """Groups of near-duplicates among the indexed items, best evidence first: copies (every tier
    but the two below), whole documents, and revisions (pages that look the same but whose text
    differs in a few words), each candidate held to colour, detail and text (``confirm.py``)."""
    from .confirm import confirm
    from .docgroups import whole_documents

    tiers = tuple(by) if by else default_tiers(store)
    for t in tiers:
        if t not in TIERS:
            raise UsageError(f"unknown tier {t!r} (choose from {', '.join(TIERS)})")
    rows = _rows(store, filters)
    pairs = _candidates(store, rows, tiers, max_distance, min_similarity)
    for pair in dismissed_pairs(store):
        pairs.pop(pair, None)
    seen = confirm(store, rows, pairs)
    videos_as_wholes(rows, seen.pairs)
    groups: list[Group] = []
    consumed: set[tuple[int, int]] = set()
    if "document" in tiers:
        documents, doc_rows, consumed = whole_documents(rows, seen.pairs)
        groups += group_pairs(doc_rows, documents, tier="document", layered=seen.layered)
    copies = {p: ev for p, ev in seen.pairs.items() if ev[0] in tiers and p not in consumed}
    groups += group_pairs(rows, copies, layered=seen.layered)
    if "revision" in tiers:
        revisions = {p: ev for p, ev in seen.revisions.items() if all(rows[i].time is None for i in p)}
        groups += group_pairs(rows, revisions, seen.changes, tier="revision", layered=seen.layered)
    return sorted(groups, key=lambda g: _RANK[g.tier])


def _rows(store: IndexStore, filters: Filters | None) -> dict[int, ItemRow]:
    """The items compared: all, or those the filters keep (categories, dates, folders, types...)."""
    rows = {r.id: r for r in store.catalog.items()}
    clause = filters.clause(Categories(store)) if filters is not None and filters.active else None
    if clause is not None:
        keep = set(store.catalog.ids_where(clause).tolist())
        rows = {i: r for i, r in rows.items() if i in keep}
    return rows


def _candidates(
    store: IndexStore, rows: dict[int, ItemRow], tiers: Sequence[str], max_distance: int, min_similarity: float | None
) -> Pairs:
    """Candidate pairs from the real indexes: hashes, codes, vectors. Revisions and documents are
    found among the look-alikes, so asking for them searches codes too."""
    pairs: Pairs = {}
    if "exact" in tiers or "document" in tiers:
        exact_pairs(list(rows.values()), pairs)
    if "raw-pair" in tiers:
        raw_pairs(list(rows.values()), pairs)
    if {"perceptual", "revision", "document"} & set(tiers):
        coded = [r for r in rows.values() if has_structure(r.phash)]
        ids = np.array([r.id for r in coded], dtype=np.int64)
        codes = np.frombuffer(b"".join(r.phash[:CODE_BYTES] for r in coded), np.uint8)  # type: ignore[index]
        perceptual_pairs(ids, codes.reshape(len(coded), CODE_BYTES), max_distance, pairs)
    if "semantic" in tiers:
        threshold = min_similarity if min_similarity is not None else semantic_threshold(store.model.name)
        semantic_pairs(store, np.array(sorted(rows), dtype=np.int64), threshold, pairs)
    return pairs


#: Share of the shorter video's kept frames that must match frames of the other for the two videos
#: to be duplicates (a re-encoded or resized copy matches nearly all; two clips sharing a black
#: frame or a title card match a few).
VIDEO_MATCH = 0.5


def videos_as_wholes(rows: dict[int, ItemRow], pairs: Pairs) -> None:
    """Turn frame-to-frame evidence into video-to-video pairs, in place.

    Frames of one video that look alike are not duplicates of each other (a static shot); frames of
    two videos make the videos duplicates only when most frames of the shorter one match. Such a
    pair stands for the two videos by their first kept frames, with the weakest tier among the
    matches and the share of frames matched as its value."""
    frames: dict[str, list[int]] = {}
    for r in rows.values():
        if r.time is not None:
            frames.setdefault(r.path, []).append(r.id)
    if not frames:
        return
    between: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
    for (a, b), (tier, _value) in list(pairs.items()):
        va, vb = rows[a].path if rows[a].time is not None else None, rows[b].path if rows[b].time is not None else None
        if va is None and vb is None:
            continue
        if va == vb or va is None or vb is None:  # within one video, or a still against a frame: not a copy
            del pairs[(a, b)]
            continue
        key = (va, vb) if va < vb else (vb, va)
        between.setdefault(key, []).append((a, b, tier))
        del pairs[(a, b)]
    for (va, vb), matches in between.items():
        short, long_ = (va, vb) if len(frames[va]) <= len(frames[vb]) else (vb, va)
        matched = {x for a, b, _ in matches for x in (a, b) if rows[x].path == short}
        share = len(matched) / len(frames[short])
        if share >= VIDEO_MATCH:
            first = {v: min(frames[v], key=lambda i: rows[i].time or 0.0) for v in (va, vb)}
            tier = max((t for _, _, t in matches), key=lambda t: _RANK[t])
            _add(pairs, first[short], first[long_], tier, round(share, 3))


def dismiss(store: IndexStore, group: Group) -> int:
    """Remember that the members of ``group`` are not duplicates of each other."""
    ids = sorted(m.item.id for m in group.members)
    if group.tier == "document":  # whole files: every page of one against every page of the others
        pages = {m.item.path: [r.id for r in store.catalog.find_path(m.item.path)] for m in group.members}
        ids = sorted(i for found in pages.values() for i in found)
    rows = [{"a": a, "b": b} for i, a in enumerate(ids) for b in ids[i + 1 :]]
    with store.catalog.engine.begin() as conn:
        insert_new(conn, DISMISSED, rows)
    return len(rows)
