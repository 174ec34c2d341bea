"""Reading GloVe vectors (``word v1 ... vD`` per line, ``.txt`` or ``.txt.gz``) for a given vocabulary."""

from __future__ import annotations

import gzip
from pathlib import Path

import torch

from pairsim.errors import DataError


def read_glove(path: str | Path, vocab: dict[str, int], dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Vectors for the words of ``vocab`` found in the file.

    Args:
        path: GloVe text file, optionally gzipped.
        vocab: word -> row index.
        dim: Expected vector size.

    Returns:
        ``(rows (N,), vectors (N, dim))``: the vocabulary rows found and their vectors.

    Raises:
        DataError: The file is missing, or its vectors are not of size ``dim``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"GloVe file not found: {path} (get glove.6B.zip from the Stanford NLP GloVe page)")
    rows, vectors = [], []
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for n, line in enumerate(lines):
            word, _, rest = line.rstrip().partition(" ")
            if word not in vocab:
                continue
            values = rest.split(" ")
            if len(values) != dim:
                raise DataError(f"{path} line {n + 1}: vector of size {len(values)}, expected embed_dim={dim}")
            rows.append(vocab[word])
            vectors.append([float(v) for v in values])
    return torch.tensor(rows, dtype=torch.long), torch.tensor(vectors, dtype=torch.float32).reshape(-1, dim)
