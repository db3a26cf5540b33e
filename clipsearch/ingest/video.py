"""Videos as searchable frames (mp4, mov, mkv, webm, avi), decoded with PyAV (FFmpeg in its wheel).

A video gives one item per kept frame, ``clip.mp4#t=12.5``. Frames are looked at about
:data:`LOOK_PER_S` times a second (scaled down at once, so a 4K video costs the memory of a few small
pictures), and one is kept when the scene changed since the last kept frame (mean difference of
small colour thumbnails above :data:`SCENE_CHANGE`), or when :data:`EVERY` seconds passed and the
picture is not the same as the last kept one (:data:`SAME`): a static shot is stored once, a cut is
never missed, and a long take still gets a frame every so often. At most ``max_frames`` a file.
A corrupt or truncated video gives the frames decoded before the damage; one with none is skipped
with the reason.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from ..errors import ImageLoadError

VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"})
LOOK_PER_S = 4.0
EVERY = 10.0
SCENE_CHANGE = 18.0  # mean absolute difference (0-255) of 32x18 colour thumbnails
SAME = 2.0
#: Longest side of a kept frame: enough for the model and a thumbnail.
FRAME_SIDE = 640
DEFAULT_MAX_FRAMES = 200


def is_video_path(path: str | os.PathLike[str]) -> bool:
    return os.path.splitext(os.fspath(path))[1].lower() in VIDEO_EXTENSIONS


@dataclass
class Frame:
    number: int  # 1-based, in the order kept
    time: float  # seconds from the start
    image: Any  # PIL RGB, at most FRAME_SIDE on its longest side


def sample_frames(
    source: str | os.PathLike[str] | bytes | IO[bytes], *, name: object = None, max_frames: int = DEFAULT_MAX_FRAMES
) -> tuple[list[Frame], dict[str, Any]]:
    """The kept frames of a video, and facts about it (``duration``, ``creation_time``, ``frames_seen``)."""
    import av

    name = name if name is not None else (source if isinstance(source, str | os.PathLike) else "video")
    data = io.BytesIO(source) if isinstance(source, bytes) else source
    kept: list[Frame] = []
    facts: dict[str, Any] = {"frames_seen": 0}
    try:
        container = av.open(data if not isinstance(data, str | os.PathLike) else os.fspath(data))
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise ImageLoadError(name, f"cannot open video: {_short(err)}") from err
    try:
        if not container.streams.video:
            raise ImageLoadError(name, "no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        facts["creation_time"] = (container.metadata or {}).get("creation_time")
        facts["duration"] = float(container.duration / 1_000_000) if container.duration else None
        try:
            for frame in _keep(container.decode(stream), max_frames, facts):
                kept.append(frame)
        except (av.error.FFmpegError, OSError, ValueError, MemoryError) as err:
            if not kept:  # broken before any frame: nothing to index
                raise ImageLoadError(name, f"cannot decode video: {_short(err)}") from err
            facts["damaged_after"] = kept[-1].time  # indexed up to where it breaks
    finally:
        container.close()
    if not kept:
        raise ImageLoadError(name, "video has no decodable frames")
    return kept, facts


def _keep(frames: Iterator[Any], max_frames: int, facts: dict[str, Any]) -> Iterator[Frame]:
    last_look = last_kept_time = -1e9
    last_small: np.ndarray | None = None
    for frame in frames:
        facts["frames_seen"] += 1
        t = float(frame.time) if frame.time is not None else facts["frames_seen"] / 25.0
        if t - last_look < 1.0 / LOOK_PER_S:
            continue
        last_look = t
        small = np.asarray(frame.to_image(width=32, height=18).convert("RGB"), dtype=np.float32)
        change = 255.0 if last_small is None else float(np.abs(small - last_small).mean())
        if change >= SCENE_CHANGE or (t - last_kept_time >= EVERY and change >= SAME):
            scale = FRAME_SIDE / max(frame.width, frame.height, 1)
            w, h = (max(2, round(frame.width * scale)), max(2, round(frame.height * scale))) if scale < 1 else (
                frame.width, frame.height)  # fmt: skip
            yield Frame(0, round(t, 3), frame.to_image(width=w, height=h).convert("RGB"))
            last_small, last_kept_time = small, t
            max_frames -= 1
            if max_frames <= 0:
                return


def frame_at(path: str | os.PathLike[str], time: float, name: object = None) -> Any:
    """The picture of the video at ``path`` at ``time`` seconds (the first frame at or after it)."""
    import av

    try:
        with av.open(os.fspath(path)) as container:
            stream = container.streams.video[0]
            container.seek(int(max(0.0, time) / stream.time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                if frame.time is None or frame.time + 1e-3 >= time:
                    return frame.to_image().convert("RGB")
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as err:
        raise ImageLoadError(name or path, f"cannot decode video: {_short(err)}") from err
    raise ImageLoadError(name or path, f"no frame at {time:g} s")


def _short(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
