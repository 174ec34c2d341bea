"""Synthetic tracking sequences with exact boxes, made from still images.

A target (a crop of one image) moves over a background (another image, seen by a slowly panning camera): smooth
random motion, scale changes, in-plane rotation of its appearance, lighting changes, motion blur, moving
distractors (crops of the target's own image: similar textures) and occluders passing in front. The box of
frame ``t`` is where the target was pasted, so it is exact by construction. The same seed gives the same
sequence on every machine (NumPy's PCG64 and OpenCV's deterministic resampling).

Example:
    >>> import numpy as np
    >>> images = [np.full((200, 300, 3), v, np.uint8) for v in (40, 200)]
    >>> seq = make_sequence(images, seed=0, frames=5)
    >>> seq.boxes.shape, seq.frame(0).shape
    ((5, 4), (240, 320, 3))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from pairsim.config import bounded


@dataclasses.dataclass(kw_only=True)
class MotionSettings:
    """How synthetic sequences move and change (pixels of the frame)."""

    frame_size: list[int] = bounded(default_factory=lambda: [320, 240], ge=64, le=4096)  # width, height
    target_side: list[int] = bounded(default_factory=lambda: [28, 64], ge=8, le=1024)  # initial side range
    speed: float = bounded(3.0, ge=0, le=64)  # typical pixels per frame
    scale_range: list[float] = bounded(default_factory=lambda: [0.7, 1.4], gt=0, le=8)  # of the initial size
    rotation: float = bounded(15.0, ge=0, le=180)  # degrees of appearance rotation at most
    lighting: float = bounded(0.25, ge=0, lt=1)  # brightness changes up to +- this fraction
    blur: float = bounded(0.3, ge=0, le=1)  # probability of motion blur on a frame
    distractors: int = bounded(2, ge=0, le=16)  # similar-looking moving crops
    occluder: float = bounded(0.5, ge=0, le=1)  # probability that an occluder crosses the target
    noise: float = bounded(3.0, ge=0, le=64)  # Gaussian pixel noise (sd, 0-255 scale)
    pan: float = bounded(1.0, ge=0, le=32)  # camera pan, pixels per frame


@dataclasses.dataclass
class _Mover:
    texture: np.ndarray  # (h, w, 3) uint8 source appearance
    xy: np.ndarray  # (T, 2) top-left corners
    size: np.ndarray  # (T, 2) width, height
    angle: np.ndarray  # (T,) degrees
    gain: np.ndarray  # (T,) brightness factor


@dataclasses.dataclass
class SyntheticSequence:
    """A rendered-on-demand sequence: ``frame(t)`` -> ``(H, W, 3)`` uint8 RGB; ``boxes`` ``(T, 4)`` exact x, y, w, h."""

    background: np.ndarray
    camera: np.ndarray  # (T, 2) top-left of the camera's view in the background
    target: _Mover
    others: list[_Mover]  # distractors (behind the target)
    occluders: list[_Mover]  # in front of the target
    blur: np.ndarray  # (T,) motion blur kernel length (0: none)
    noise: float
    seed: int
    frame_size: tuple[int, int]

    @property
    def boxes(self) -> np.ndarray:
        return np.concatenate([self.target.xy, self.target.size], axis=1).astype(np.float64)  # (T, 4)

    def __len__(self) -> int:
        return len(self.camera)

    def frame(self, t: int) -> np.ndarray:
        """Frame ``t`` as ``(H, W, 3)`` uint8 RGB."""
        import cv2

        w, h = self.frame_size
        cx, cy = self.camera[t]
        frame = self.background[cy : cy + h, cx : cx + w].astype(np.float32)  # (H, W, 3)
        for mover in [*self.others, self.target, *self.occluders]:
            _paste(frame, mover, t)
        if self.blur[t]:
            k = int(self.blur[t])
            kernel = np.zeros((k, k), np.float32)
            kernel[k // 2, :] = 1.0 / k  # horizontal motion blur
            frame = cv2.filter2D(frame, -1, kernel, borderType=cv2.BORDER_REFLECT)
        if self.noise:
            rng = np.random.default_rng([self.seed, t])
            frame += rng.normal(0, self.noise, frame.shape).astype(np.float32)
        return np.clip(frame, 0, 255).round().astype(np.uint8)

    def frames(self) -> list[np.ndarray]:
        return [self.frame(t) for t in range(len(self))]


def _paste(frame: np.ndarray, mover: _Mover, t: int) -> None:
    """Paste ``mover`` as it is at frame ``t`` (clipped to the frame), in place."""
    import cv2

    x, y = (int(v) for v in mover.xy[t])
    w, h = (int(v) for v in mover.size[t])
    tex = mover.texture
    if mover.angle[t]:
        th, tw = tex.shape[:2]
        rot = cv2.getRotationMatrix2D((tw / 2, th / 2), float(mover.angle[t]), 1.0)
        tex = cv2.warpAffine(tex, rot, (tw, th), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    patch = cv2.resize(tex, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) * mover.gain[t]  # (h, w, 3)
    fh, fw = frame.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, fw), min(y + h, fh)
    if x1 > x0 and y1 > y0:
        frame[y0:y1, x0:x1] = patch[y0 - y : y1 - y, x0 - x : x1 - x]


def _walk(rng: np.random.Generator, frames: int, start: np.ndarray, speed: float, low: np.ndarray,
          high: np.ndarray) -> np.ndarray:  # fmt: skip
    """A smooth random walk ``(T, 2)`` from ``start`` with about ``speed`` pixels per frame, bouncing inside
    ``[low, high]``."""
    xy = np.empty((frames, 2))
    pos, vel = start.astype(np.float64), rng.normal(0, speed, 2)
    for t in range(frames):
        xy[t] = pos
        vel = 0.85 * vel + rng.normal(0, 0.5 * speed, 2)
        pos = pos + vel
        for d in range(2):
            if pos[d] < low[d] or pos[d] > high[d]:
                vel[d] = -vel[d]
                pos[d] = np.clip(pos[d], low[d], high[d])
    return xy


def _smooth(rng: np.random.Generator, frames: int, amplitude: float, steps: float = 30.0) -> np.ndarray:
    """A slow signal ``(T,)`` in about ``[-amplitude, amplitude]``."""
    phase, period = rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 1.5) * steps
    return amplitude * np.sin(phase + 2 * np.pi * np.arange(frames) / period)


def _crop(rng: np.random.Generator, image: np.ndarray, w: int, h: int) -> np.ndarray:
    ih, iw = image.shape[:2]
    w, h = min(w, iw), min(h, ih)
    x, y = int(rng.integers(0, iw - w + 1)), int(rng.integers(0, ih - h + 1))
    return image[y : y + h, x : x + w].copy()


def make_sequence(
    images: Sequence[np.ndarray], *, seed: int, frames: int = 100, settings: MotionSettings | None = None
) -> SyntheticSequence:
    """A synthetic sequence from still images (at least two: a background and a target source).

    Args:
        images: ``(H, W, 3)`` uint8 RGB images to draw from.
        seed: Picks the images, the crops and every movement.
        frames: Number of frames.
        settings: Motion and appearance settings.

    Returns:
        The sequence; its frames are rendered when asked for.
    """
    import cv2

    s = settings or MotionSettings()
    rng = np.random.default_rng(seed)
    fw, fh = s.frame_size
    margin = int(np.ceil(s.pan * frames / 4)) + 2
    bg_index, tgt_index = rng.choice(len(images), size=2, replace=len(images) < 2)
    background = cv2.resize(images[bg_index], (fw + 2 * margin, fh + 2 * margin), interpolation=cv2.INTER_AREA)
    camera = np.clip(
        np.round(_walk(rng, frames, np.array([margin, margin]), s.pan, np.zeros(2), np.full(2, 2.0 * margin))),
        0, 2 * margin,
    ).astype(int)  # fmt: skip

    def mover(source: np.ndarray, side: float, aspect: float, scale_amp: float, speed: float) -> _Mover:
        w0, h0 = side * np.sqrt(aspect), side / np.sqrt(aspect)
        texture = _crop(rng, source, round(w0 * 1.5), round(h0 * 1.5))
        lo, hi = np.log(s.scale_range[0]), np.log(s.scale_range[1])
        log_scale = np.clip(_smooth(rng, frames, scale_amp), lo, hi)
        size = np.maximum(np.round(np.stack([w0 * np.exp(log_scale), h0 * np.exp(log_scale)], 1)), 4).astype(int)
        start = np.array([rng.uniform(0.2, 0.8) * fw - w0 / 2, rng.uniform(0.2, 0.8) * fh - h0 / 2])
        high = np.array([fw - size[:, 0].max(), fh - size[:, 1].max()], dtype=np.float64)
        xy = np.round(_walk(rng, frames, np.clip(start, 0, high), speed, np.zeros(2), high)).astype(int)
        angle = _smooth(rng, frames, s.rotation)
        gain = 1.0 + _smooth(rng, frames, s.lighting)
        return _Mover(texture=texture, xy=xy, size=size, angle=angle, gain=gain)

    side = rng.uniform(*s.target_side)
    target = mover(images[tgt_index], side, rng.uniform(0.6, 1.6), 0.35, s.speed)
    others = [mover(images[tgt_index], side * rng.uniform(0.8, 1.2), rng.uniform(0.6, 1.6), 0.2, s.speed)
              for _ in range(s.distractors)]  # fmt: skip
    occluders: list[_Mover] = []
    if rng.random() < s.occluder:
        occ_source = images[rng.choice(len(images))]
        occ = mover(occ_source, side * 0.6, rng.uniform(0.3, 3.0), 0.0, 0.0)
        t0, t1 = sorted(rng.integers(0, frames, 2))
        track = target.xy + target.size / 2 - occ.size / 2  # over the target's centre between t0 and t1
        offset = rng.uniform(-0.5, 0.5, 2) * target.size[0]
        occ.xy = np.where((np.arange(frames) >= t0)[:, None] & (np.arange(frames) <= t1)[:, None],
                          np.round(track + offset), -10_000).astype(int)  # fmt: skip
        occluders.append(occ)
    blur = np.where(rng.random(frames) < s.blur, rng.choice([3, 5, 7], frames), 0)
    return SyntheticSequence(background=background, camera=camera, target=target, others=others,
                             occluders=occluders, blur=blur, noise=s.noise, seed=seed,
                             frame_size=(fw, fh))  # fmt: skip


def load_images(folder: str, *, held_out: bool, max_side: int = 500, every: int = 10) -> list[np.ndarray]:
    """RGB images of a folder, split by name: every ``every``-th (sorted) is held out for evaluation.

    Args:
        folder: A folder of .jpg / .png images.
        held_out: The held-out images (True) or the training ones (False).
        max_side: Images are shrunk so their longer side is at most this.
        every: One image in ``every`` is held out.
    """
    from pathlib import Path

    from PIL import Image

    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    chosen = [p for i, p in enumerate(paths) if (i % every == every - 1) == held_out]
    images = []
    for path in chosen:
        with Image.open(path) as img:
            img = img.convert("RGB")
            img.thumbnail((max_side, max_side))
            images.append(np.asarray(img))
    return images
