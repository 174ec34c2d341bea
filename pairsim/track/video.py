"""Writing what a tracker saw: boxes as text (one ``x,y,w,h`` line per frame) and an annotated GIF or MP4."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pairsim.errors import DataError
from pairsim.track.geometry import Box

VIDEO_SUFFIXES = {".gif", ".mp4", ".avi"}


def boxes_text(boxes: Sequence[Box]) -> str:
    """One ``x,y,w,h`` line per frame, two decimals."""
    return "".join(",".join(f"{v:.2f}" for v in box) + "\n" for box in boxes)


def draw(frame: np.ndarray, box: Box, *, colour: tuple[int, int, int] = (255, 40, 40), label: str = "") -> np.ndarray:
    """A copy of ``frame`` (RGB) with ``box`` drawn, and ``label`` above it."""
    import cv2

    out = np.ascontiguousarray(frame.copy())
    x, y, w, h = (round(float(v)) for v in box)
    cv2.rectangle(out, (x, y), (x + w, y + h), colour, 2)
    if label:
        cv2.putText(out, label, (max(x, 2), max(y - 5, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    return out


def write_video(target: str | Path, frames: Sequence[np.ndarray], boxes: Sequence[Box], *, fps: float = 15.0,
                max_side: int = 480) -> Path:  # fmt: skip
    """Write the frames with their boxes drawn, as GIF (Pillow) or MP4 / AVI (OpenCV), replacing ``target`` only
    when the whole file was written.

    Raises:
        DataError: ``target``'s suffix is not .gif, .mp4 or .avi.
    """
    from pairsim.safe_io import atomic_write

    target = Path(target)
    suffix = target.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise DataError(f"--video {target}: expected a .gif, .mp4 or .avi name")
    drawn = [draw(f, b, label=f"{i}") for i, (f, b) in enumerate(zip(frames, boxes, strict=True))]
    h, w = drawn[0].shape[:2]
    scale = min(1.0, max_side / max(h, w))
    size = (int(w * scale) // 2 * 2, int(h * scale) // 2 * 2)

    def write(path: Path) -> None:
        import cv2

        small = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in drawn]
        if suffix == ".gif":
            from PIL import Image

            images = [Image.fromarray(f) for f in small]
            images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                           duration=int(1000 / fps), loop=0)  # fmt: skip
            return
        fourcc = cv2.VideoWriter_fourcc(*("mp4v" if suffix == ".mp4" else "MJPG"))
        writer = cv2.VideoWriter(str(path), fourcc, fps, size)
        try:
            for f in small:
                writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()

    return atomic_write(target, write, suffix=suffix, what="--video")
