"""Videos: frames sampled by scene and time, searchable, comparable, and found again when copied.

The videos are made here with PyAV (FFmpeg in its wheel) from the tiny-shapes renderer: segments
each showing one coloured shape, so the toy model's text query has a right answer in time.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image

from clipsearch.ingest.video import sample_frames
from clipsearch.models.demo_shapes import draw

SEGMENTS = [("red", "circle"), ("green", "square"), ("blue", "triangle")]


def make_video(path: Path, *, seconds: float = 4.0, fps: int = 10, size=(320, 240), codec="libx264", still_tail=0.0,
               segments=SEGMENTS):  # fmt: skip
    """Segments of ``seconds`` each showing one shape, moving a little; an optional still tail."""
    path.parent.mkdir(parents=True, exist_ok=True)
    container = av.open(str(path), "w")
    stream = container.add_stream(codec, rate=fps)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    rng = np.random.default_rng(0)
    frames = []
    for colour, shape in segments:
        base = np.asarray(draw(colour, shape, rng).resize(size))
        for i in range(int(seconds * fps)):
            frames.append(Image.fromarray(np.roll(base, i % 5, axis=1)))  # moving a little
    frames += [frames[-1]] * int(still_tail * fps)
    for image in frames:
        for packet in stream.encode(av.VideoFrame.from_image(image)):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def test_frames_are_kept_at_cuts_and_a_still_shot_is_stored_once(tmp_path):
    video = make_video(tmp_path / "clip.mp4", still_tail=30.0)  # 12 s of shapes, then 30 s of one still
    frames, facts = sample_frames(str(video))
    times = [f.time for f in frames]
    assert times[0] == 0.0 and any(3.9 <= t <= 4.5 for t in times) and any(7.9 <= t <= 8.5 for t in times)
    assert len(frames) <= 5, times  # the still tail adds nothing: consecutive identical frames
    assert facts["frames_seen"] == 420 and abs(facts["duration"] - 42.0) < 0.5


def test_a_text_query_lands_in_the_right_segment_and_a_frame_is_a_query(cli, tmp_path):
    make_video(tmp_path / "v" / "shapes.mp4")
    report = cli.json("index", str(tmp_path / "v"), "--model", "tiny-shapes")
    assert report["added"] == 1 and report["items"] >= 3
    again = cli.json("index", str(tmp_path / "v"), "--ocr", "all")  # nothing to redo, whatever the OCR mode
    assert (again["unchanged"], again["embedded"], again["enriched"]) == (1, 0, 0)
    for (colour, shape), (start, end) in zip(SEGMENTS, [(0, 4), (4, 8), (8, 12)], strict=True):
        best = cli.json("search", f"a {colour} {shape}", "-k", "1")[0]
        assert start <= best["time"] < end, (colour, shape, best)
        assert "page" not in best
    hit = cli.json("similar", str(tmp_path / "v" / "shapes.mp4") + "#t=8.5", "-k", "1")[0]
    assert hit["time"] < 8  # the query frame itself is left out; the next best is another segment's
    table = cli("search", "a blue triangle", "-k", "1").stdout
    assert "shapes.mp4#t=8" in table


def test_a_reencoded_resized_copy_is_a_duplicate_of_the_video(cli, tmp_path):
    make_video(tmp_path / "v" / "original.mp4")
    make_video(tmp_path / "v" / "copy.webm", size=(240, 180), codec="libvpx")  # other codec, smaller
    make_video(tmp_path / "v" / "other.mp4", segments=[("purple", "star"), ("orange", "cross")])
    cli.json("index", str(tmp_path / "v"), "--model", "tiny-shapes")
    groups = cli.json("duplicates")
    videos = [sorted(Path(i["path"]).name for i in g["items"]) for g in groups]
    assert ["copy.webm", "original.mp4"] in videos
    assert not any(len(set(v)) < len(v) for v in videos)  # never two frames of one video


def test_broken_videos_are_skipped_or_kept_up_to_the_damage(cli, tmp_path):
    folder = tmp_path / "v"
    good = make_video(folder / "good.mkv", codec="libx264")  # mkv keeps its index up front
    data = good.read_bytes()
    (folder / "truncated.mkv").write_bytes(data[: int(len(data) * 0.6)])
    (folder / "garbage.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\xff" * 500)
    report = cli.json("index", str(folder), "--model", "tiny-shapes")
    reasons = {Path(s["path"]).name: s["reason"] for s in report["skipped_files"]}
    assert set(reasons) == {"garbage.mp4"} and "video" in reasons["garbage.mp4"]
    frames = [r for r in cli.json("search", "a shape", "-k", "50") if r["path"].endswith("truncated.mkv")]
    assert frames and max(r["time"] for r in frames) < 12  # what decoded before the damage


def test_memory_stays_bounded_on_a_4k_video(tmp_path):
    import resource

    video = make_video(tmp_path / "big.mp4", seconds=1.0, size=(3840, 2160), fps=5)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    frames, _ = sample_frames(str(video))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert all(max(f.image.size) <= 640 for f in frames)
    assert grown_mb < 400, grown_mb
