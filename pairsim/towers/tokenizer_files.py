"""A text tower's saved tokenizer: the one reader of ``<tower dir>/tokenizer`` for every tower that keeps one
(``transformer``, ``pair_tokens``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pairsim.errors import ModelFileError

TOKENIZER_DIR = "tokenizer"  # sub-folder of a tower's asset folder


def load_tokenizer(directory: Path) -> Any:
    """The Hugging Face tokenizer saved in ``directory / TOKENIZER_DIR``: only the files there, no code from them.

    Raises:
        ModelFileError: Files missing, code shipped with them, or unreadable (one line naming the folder).
    """
    from transformers import AutoTokenizer

    from pairsim.manifest import reject_remote_code

    path = directory / TOKENIZER_DIR
    if not (path / "tokenizer_config.json").is_file():
        raise ModelFileError(f"tokenizer files missing: {path / 'tokenizer_config.json'} not found")
    reject_remote_code(path)
    try:
        return AutoTokenizer.from_pretrained(path, trust_remote_code=False, local_files_only=True)
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise ModelFileError(f"cannot read the tokenizer in {path}: {' '.join(str(err).split())}") from None
