"""Reading real sequences: a video file or a folder of frames, and annotated sequences in the OTB / GOT-10k
layout (a folder of frames, ``img/`` or the folder itself, plus ``groundtruth_rect.txt`` / ``groundtruth.txt`` of
``x,y,w,h`` per line, separated by commas, tabs or spaces)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np

from pairsim.errors import DataError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
GROUND_TRUTH = ("groundtruth_rect.txt", "groundtruth.txt")


def read_frames(source: str | Path, *, limit: int | None = None, start: int = 0) -> list[np.ndarray]:
    """Frames ``(H, W, 3)`` uint8 RGB of a video file (OpenCV) or a folder of images (sorted by name).

    Raises:
        DataError: The source is missing, unreadable or holds no frames (one line naming it).
    """
    import cv2

    path = Path(source)
    if path.is_dir():
        folder = path / "img" if (path / "img").is_dir() else path
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        files = files[start : None if limit is None else start + limit]
        frames = []
        for f in files:
            image = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if image is None:
                raise DataError(f"{f}: not a readable image")
            frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    elif path.is_file():
        capture = cv2.VideoCapture(str(path))
        frames, index = [], 0
        try:
            while limit is None or len(frames) < limit:
                ok, image = capture.read()
                if not ok:
                    break
                if index >= start:
                    frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
                index += 1
        finally:
            capture.release()
    else:
        raise DataError(f"{path}: not found (expected a video file or a folder of frames)")
    if not frames:
        raise DataError(f"{path}: no frames read (expected a video OpenCV can decode, or .jpg / .png frames)")
    return frames


def parse_box(text: str, *, where: str) -> tuple[float, float, float, float]:
    """``x,y,w,h`` (commas, tabs or spaces) -> a box; width and height must be positive and finite."""
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(np.isfinite(values)) or values[2] <= 0 or values[3] <= 0:
        raise DataError(f"{where}: expected x,y,w,h with a positive width and height, got {text.strip()!r}")
    return values[0], values[1], values[2], values[3]


@dataclasses.dataclass
class AnnotatedSequence:
    """Frames with a ground-truth box per frame (OTB / GOT-10k layout)."""

    name: str
    frames: list[np.ndarray]
    boxes: np.ndarray  # (T, 4)

    def __len__(self) -> int:
        return len(self.frames)

    def frame(self, t: int) -> np.ndarray:
        return self.frames[t]


def read_annotated(folder: str | Path) -> AnnotatedSequence:
    """One annotated sequence folder; the boxes file must have one line per frame."""
    folder = Path(folder)
    truth = next((folder / n for n in GROUND_TRUTH if (folder / n).is_file()), None)
    if truth is None:
        raise DataError(f"{folder}: no {' or '.join(GROUND_TRUTH)} (x,y,w,h per frame)")
    lines = [ln for ln in truth.read_text(encoding="utf-8").splitlines() if ln.strip()]
    boxes = np.array([parse_box(ln, where=f"{truth}:{i + 1}") for i, ln in enumerate(lines)])
    frames = read_frames(folder)
    if len(frames) != len(boxes):
        raise DataError(f"{truth}: {len(boxes)} boxes for {len(frames)} frames (expected one box per frame)")
    return AnnotatedSequence(name=folder.name, frames=frames, boxes=boxes)
