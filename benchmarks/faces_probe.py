"""Untrained EfficientNet-Lite0 features on the AT&T faces: which layer, centring and flip average separate
unseen subjects best (the probe behind ``recipes/att_faces_efficientnet.yaml``'s ``stage: 3``).

Encodes the 400 faces once at 224x224 and scores every same/different pair of each fold's 8 test subjects by
cosine after subtracting the mean feature of 24 training subjects (all but the fold's test subjects and the
next fold's 8, standing in for validation subjects; ``quality.py --only faces`` draws those at random); reports ROC-AUC and EER per fold and their means, for
the output of blocks 3, 4 (= timm stage 3) and 5, with and without averaging the horizontally flipped image; then,
for block 4 with the flip average, within-class whitening (WCCN: the training subjects' within-subject
covariance, shrunk towards its mean variance, inverted square root: ``pairsim.train.fitters.projection.wccn``) before the
cosine; last, block 4's map pooled over a 1x1 to 4x4 grid, with and without the mirror average, WCCN with three
shrinkages, then cosine or S-norm against the training faces (the pieces of ``recipes/att_faces_efficientnet.yaml``:
``grid``, ``mirror_average``, ``train.fit.projection``, ``head.cohort``), with validation subjects to choose on.

    PAIRSIM_DATA_DIR=../shared/data python benchmarks/faces_probe.py
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import safetensors.torch
import timm
import torch
from PIL import Image
from sklearn.metrics import roc_auc_score, roc_curve

from pairsim.heads.cosine import CosineConfig, CosineHead
from pairsim.train.fitters.projection import wccn

DATA = Path(os.environ.get("PAIRSIM_DATA_DIR", "../shared/data")) / "att_faces"
WEIGHTS = Path(__file__).resolve().parents[2] / "shared" / "models" / "efficientnet_lite0" / "model.safetensors"
MEAN, STD = torch.tensor([0.485, 0.456, 0.406])[:, None, None], torch.tensor([0.229, 0.224, 0.225])[:, None, None]


def block_features(net: torch.nn.Module, x: torch.Tensor, blocks: tuple[int, ...]) -> dict[int, torch.Tensor]:
    """Average-pooled outputs ``(B, C)`` of the given blocks."""
    out, h = {}, net.bn1(net.conv_stem(x))
    for j, block in enumerate(net.blocks):
        h = block(h)
        if j in blocks:
            out[j] = h.mean((2, 3))
    return out


def auc_eer(z: torch.Tensor, labels: np.ndarray, cohort: torch.Tensor | None = None) -> tuple[float, float]:
    """ROC-AUC and EER over all pairs of ``z`` by cosine, or by S-norm against ``cohort`` (pairsim's cosine head)."""
    head = CosineHead(CosineConfig(name="cosine", cohort=0 if cohort is None else len(cohort))).eval()
    if cohort is not None:
        head.bind(z.shape[1])
        head.set_cohort(cohort)
    s, same = head.matrix(z, z).numpy(), labels[:, None] == labels[None, :]
    iu = np.triu_indices(len(labels), 1)
    fpr, tpr, _ = roc_curve(same[iu], s[iu])
    i = int(np.nanargmin(np.abs(1 - tpr - fpr)))
    return float(roc_auc_score(same[iu], s[iu])), float((fpr[i] + 1 - tpr[i]) / 2)


def main() -> None:
    torch.set_num_threads(1)
    net = timm.create_model("efficientnet_lite0", pretrained=False, num_classes=0)
    net.load_state_dict(safetensors.torch.load_file(WEIGHTS), strict=False)
    net.eval()
    images, labels = [], []
    for i in range(1, 41):
        for f in sorted((DATA / f"s{i}").glob("*.pgm")):
            rgb = np.asarray(Image.open(f).convert("RGB").resize((224, 224)), dtype=np.float32) / 255
            images.append((torch.from_numpy(rgb).permute(2, 0, 1) - MEAN) / STD)  # (3, 224, 224)
            labels.append(i)
    x, y = torch.stack(images), np.array(labels)  # (400, 3, 224, 224)
    blocks = (3, 4, 5)
    with torch.no_grad():
        plain = [block_features(net, x[i : i + 40], blocks) for i in range(0, len(x), 40)]
        flipped = [block_features(net, x[i : i + 40].flip(-1), blocks) for i in range(0, len(x), 40)]
    for j in blocks:
        f = torch.cat([p[j] for p in plain])  # (400, C)
        ff = f + torch.cat([p[j] for p in flipped])
        for name, feats in (("plain", f), ("flip average", ff)):
            res = []
            for k in range(5):
                test = (y > 8 * k) & (y <= 8 * k + 8)
                val = (y > 8 * ((k + 1) % 5)) & (y <= 8 * ((k + 1) % 5) + 8)
                train = ~(test | val)
                res.append(auc_eer(feats[test] - feats[train].mean(0), y[test]))
            aucs, eers = zip(*res, strict=True)
            print(f"block {j} ({name}): ROC-AUC per fold {[round(a, 4) for a in aucs]} mean {np.mean(aucs):.4f}; "
                  f"EER per fold {[round(e, 3) for e in eers]} mean {np.mean(eers):.4f}", flush=True)  # fmt: skip
    feats = torch.cat([p[4] for p in plain]) + torch.cat([p[4] for p in flipped])  # (400, C): block 4, flip average
    for shrink in (0.1, 0.5, 0.8):
        res = []
        for k in range(5):
            test = (y > 8 * k) & (y <= 8 * k + 8)
            val = (y > 8 * ((k + 1) % 5)) & (y <= 8 * ((k + 1) % 5) + 8)
            train = ~(test | val)
            w, b = wccn(feats[train], torch.as_tensor(y[train]), shrink=shrink, out_dim=feats.shape[1])
            res.append(auc_eer(feats[test] @ w.T + b, y[test]))  # (80, C) whitened
        aucs, eers = zip(*res, strict=True)
        print(f"block 4 (flip average, WCCN shrink {shrink}): ROC-AUC per fold {[round(a, 4) for a in aucs]} "
              f"mean {np.mean(aucs):.4f}; EER per fold {[round(e, 3) for e in eers]} mean {np.mean(eers):.4f}",
              flush=True)  # fmt: skip
    grid_rows(net, x, y)


def grid_rows(net: torch.nn.Module, x: torch.Tensor, y: np.ndarray) -> None:
    """Block 4's map pooled over a g x g grid (``grid``), alone or averaged with the mirrored face's
    (``mirror_average``), the pairsim WCCN map fitted on 24 training subjects
    (``train.fit.projection``), then cosine or S-norm with their 240 faces as the cohort (``head.cohort``).

    Per fold the 8 validation subjects are drawn from the 32 non-test ones (``numpy`` generator seeded with the
    fold), so a setting can be chosen on validation EER and read on test.
    """

    def block4_maps(images: torch.Tensor) -> torch.Tensor:
        maps = []
        with torch.no_grad():
            for i in range(0, len(images), 40):
                h = net.bn1(net.conv_stem(images[i : i + 40]))
                for block in net.blocks[:5]:
                    h = block(h)
                maps.append(h)  # (40, 112, 14, 14)
        return torch.cat(maps)  # (400, 112, 14, 14)

    def pool(maps: torch.Tensor, g: int) -> torch.Tensor:
        return torch.nn.functional.adaptive_avg_pool2d(maps, g).permute(0, 2, 3, 1).flatten(1)  # (400, 112 g^2)

    m, mirrored = block4_maps(x), block4_maps(x.flip(-1))
    for g, mirror in itertools.product((1, 2, 3, 4), (False, True)):
        feats = (pool(m, g) + pool(mirrored, g)) / 2 if mirror else pool(m, g)  # mirror: the tower's mirror_average
        for shrink in (0.2, 0.5, 0.8):
            for norm in ("cosine", "S-norm"):
                val_res, test_res = [], []
                for k in range(5):
                    test = (y > 8 * k) & (y <= 8 * k + 8)
                    rest = [s for s in range(1, 41) if not 8 * k < s <= 8 * k + 8]
                    val = np.isin(y, np.random.default_rng(k).choice(rest, 8, replace=False))
                    train = ~(test | val)
                    w, b = wccn(feats[train], torch.as_tensor(y[train]), shrink=shrink, out_dim=feats.shape[1])
                    z = feats @ w.T + b  # (400, D)
                    cohort = z[train] if norm == "S-norm" else None
                    val_res.append(auc_eer(z[val], y[val], cohort))
                    test_res.append(auc_eer(z[test], y[test], cohort))
                (va, ve), (ta, te) = (np.mean(r, axis=0) for r in (val_res, test_res))
                print(f"block 4, grid {g}{', mirror average' if mirror else ''}, WCCN {shrink}, {norm}: val ROC-AUC {va:.4f} EER {ve:.4f} | test ROC-AUC "
                      f"{ta:.4f} EER {te:.4f} (per fold {[round(e, 3) for _, e in test_res]})", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
