"""The SiamFC tracker: exemplar features from the first frame; each new frame searched at a few scales around the
last position, the response upsampled, penalised by a cosine window, its peak the new centre, the size updated
with damping (Bertinetto et al. 2016, section 2.4)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from pairsim.track.geometry import Box, box_at, center_of, context_size, crop
from pairsim.track.model import SiamFC, TrackerSettings, hann_window
from pairsim.track.runtime import RUNTIMES


def bicubic_matrix(size: int, out: int) -> np.ndarray:
    """``(out, size)`` float64: ``A @ r`` is ``F.interpolate``'s bicubic resize (``align_corners=False``) of ``r``.

    Bicubic interpolation is linear and separable, so a map ``R`` resizes as ``A @ R @ A.T``; the columns are
    PyTorch's own interpolation of the unit vectors (a 1-wide axis resized to 1 is the identity).

    Example:
        >>> r = torch.rand(1, 1, 5, 5, dtype=torch.float64)
        >>> a = bicubic_matrix(5, 12)
        >>> ref = F.interpolate(r, size=(12, 12), mode="bicubic", align_corners=False)[0, 0].numpy()
        >>> bool(np.allclose(a @ r[0, 0].numpy() @ a.T, ref))
        True
    """
    basis = torch.eye(size, dtype=torch.float64).view(size, 1, size, 1)  # (n, 1, n, 1): unit vectors
    columns = F.interpolate(basis, size=(out, 1), mode="bicubic", align_corners=False)  # (n, 1, out, 1)
    return columns[:, 0, :, 0].T.numpy().copy()  # (out, n)


class Tracker:
    """Follows one target through frames.

    Args:
        model: A trained :class:`~pairsim.track.model.SiamFC` (its ``config.tracker`` settings are used).
        backend: How the tower runs (:data:`~pairsim.track.runtime.RUNTIMES`: ``torch`` or ``onnx``).
        threads: onnxruntime's intra-op threads (None: its default); PyTorch's count is the caller's.
        settings: Search settings in place of the model's ``config.tracker`` (to try settings without saving).

    Example:
        >>> tracker = Tracker(model)  # doctest: +SKIP
        >>> tracker.init(first_frame, (x, y, w, h))  # doctest: +SKIP
        >>> box = tracker.update(next_frame)  # doctest: +SKIP
    """

    def __init__(
        self,
        model: SiamFC,
        *,
        backend: str = "torch",
        threads: int | None = None,
        settings: TrackerSettings | None = None,
    ) -> None:
        self.model = model.eval()
        self.settings = settings or model.config.tracker
        s = self.settings
        self.factors = s.scale_step ** (np.arange(s.scales) - (s.scales - 1) / 2)  # (S,)
        self.up = model.response_size * s.upsample
        self.window = hann_window(self.up)  # (U, U)
        self.resize = torch.from_numpy(bicubic_matrix(model.response_size, self.up))  # (U, R) float64
        self.features = RUNTIMES.get(backend)(model.backbone, threads)

    @torch.inference_mode()
    def init(self, frame: np.ndarray, box: Box) -> None:
        """Start on ``frame`` ``(H, W, 3)`` uint8 RGB with the target at ``box`` (x, y, w, h)."""
        c = self.model.config
        x, y, w, h = (float(v) for v in box)
        if not (w > 0 and h > 0):
            raise ValueError(f"init box: expected a positive width and height, got {box}")
        self.center = np.array(center_of((x, y, w, h)))
        self.size = np.array([w, h])
        self.side_z = context_size(w, h, c.context)
        self.side_x = self.side_z * c.search_size / c.exemplar_size
        self.fill = frame.reshape(-1, 3).mean(0)
        exemplar = crop(frame, *self.center, self.side_z, c.exemplar_size, self.fill)
        self.kernel = self.features(exemplar[None])  # (1, C, hz, wz), kept for every frame
        self.min_side, self.max_side = 0.2 * self.side_z, 5.0 * self.side_z

    @torch.inference_mode()
    def update(self, frame: np.ndarray) -> Box:
        """The target's box in the next frame."""
        c, s = self.model.config, self.settings
        sides = self.side_x * self.factors  # (S,) frame pixels of each scale's search crop
        crops = np.stack([crop(frame, *self.center, side, c.search_size, self.fill) for side in sides])  # (S, X, X, 3)
        response = self.model.response(self.kernel, self.features(crops))[:, 0].double()  # (S, R, R)
        up = (self.resize @ response @ self.resize.T).numpy()  # (S, U, U): bicubic upsampling
        peaks = up.reshape(len(sides), -1).max(1)  # (S,)
        peaks[np.arange(len(sides)) != (len(sides) - 1) // 2] *= s.scale_penalty
        best = int(peaks.argmax())
        r = up[best] - up[best].min()
        r /= max(r.sum(), 1e-12)
        r = (1 - s.window_influence) * r + s.window_influence * self.window  # (U, U)
        row, col = np.unravel_index(int(r.argmax()), r.shape)
        disp_response = np.array([col, row], dtype=np.float64) - (self.up - 1) / 2  # upsampled cells
        disp_search = disp_response * self.model.stride / s.upsample  # search-crop pixels
        self.center = self.center + disp_search * sides[best] / c.search_size  # frame pixels
        scale = 1 - s.scale_lr + s.scale_lr * self.factors[best]
        self.side_x = float(np.clip(self.side_x * scale, self.min_side * c.search_size / c.exemplar_size,
                                    self.max_side * c.search_size / c.exemplar_size))  # fmt: skip
        self.size = self.size * scale
        hgt, wid = frame.shape[:2]
        self.center = np.clip(self.center, [0, 0], [wid, hgt])
        return box_at(*self.center, *self.size)

    def track(self, frames: Iterable[np.ndarray], box: Box) -> Iterator[Box]:
        """Boxes of every frame: the first is ``box``, then one :meth:`update` per frame."""
        it = iter(frames)
        first = next(it)
        self.init(first, box)
        yield tuple(float(v) for v in box)  # type: ignore[misc]
        for frame in it:
            yield self.update(frame)
