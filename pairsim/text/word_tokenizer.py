"""A word-level tokenizer whose vocabulary is built from training text and saved with the model."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from pairsim.errors import ModelFileError
from pairsim.jsonio import read_json_bounded

PAD, UNK = "<pad>", "<unk>"
_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


class WordTokenizer:
    """Lower-cased words and punctuation -> ids; id 0 is padding, id 1 unknown words.

    Args:
        words: The vocabulary after the two special tokens, most frequent first.
        lowercase: Lower-case text before splitting.

    Example:
        >>> tok = WordTokenizer.build(["the cat sat", "the dog"], min_freq=1)
        >>> tok.encode("The cat ran")
        [2, 3, 1]
    """

    def __init__(self, words: Iterable[str] = (), *, lowercase: bool = True) -> None:
        self.lowercase = lowercase
        self.itos = [PAD, UNK, *words]
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    @classmethod
    def build(
        cls, texts: Iterable[str], *, min_freq: int = 1, max_size: int | None = None, lowercase: bool = True
    ) -> WordTokenizer:
        """Count words in ``texts``; keep those seen ``min_freq`` times, at most ``max_size``, most frequent first."""
        counts = Counter(w for text in texts for w in cls._split(text, lowercase))
        words = [w for w, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_freq]
        return cls(words[:max_size] if max_size else words, lowercase=lowercase)

    @staticmethod
    def _split(text: str, lowercase: bool) -> list[str]:
        return _WORD.findall(text.lower() if lowercase else text)

    def __len__(self) -> int:
        return len(self.itos)

    def tokenize(self, text: str) -> list[str]:
        return self._split(text, self.lowercase)

    def encode(self, text: str, max_length: int | None = None) -> list[int]:
        """Ids of ``text``'s words, unknown words as 1, cut to ``max_length``; an empty text gives ``[1]``."""
        ids = [self.stoi.get(w, 1) for w in self.tokenize(text)][:max_length] or [1]
        return ids

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"lowercase": self.lowercase, "itos": self.itos}, ensure_ascii=False))

    @classmethod
    def load(cls, path: str | Path) -> WordTokenizer:
        """Read a vocabulary written by :meth:`save`.

        Raises:
            ModelFileError: The file is missing or not a vocabulary.
        """
        path = Path(path)
        try:
            data = read_json_bounded(path, what="the file", error=ModelFileError)  # bounded depth and size
            itos = data["itos"]
        except (OSError, ValueError, KeyError, TypeError) as err:  # ModelFileError is an OSError
            raise ModelFileError(f"cannot read vocabulary {path}: {err}") from None
        if itos[:2] != [PAD, UNK]:
            raise ModelFileError(f"{path} is not a pairsim vocabulary (it must start with {PAD}, {UNK})")
        return cls(itos[2:], lowercase=bool(data.get("lowercase", True)))
