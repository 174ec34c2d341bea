"""Export a tied transformer pair model as a sentence-transformers directory.

The directory is written with sentence-transformers' own modules (``Transformer`` -> ``Pooling`` ->
optional ``Dense`` for the projection -> optional ``Normalize``) and their ``save``, so whichever
sentence-transformers version is installed writes the layout it reads back:
``SentenceTransformer(directory).encode(texts)`` gives the pair model's side-a embeddings.

A model's ``truncate_dim`` travels as sentence-transformers' own ``truncate_dim`` (written to
``config_sentence_transformers.json``, read back by ``SentenceTransformer(directory)``; every dimension is kept,
so ``st.truncate_dim = None`` gives the full size again). sentence-transformers cuts after the model's modules,
``Normalize`` included, so for a cosine head its vectors are the pair model's before renormalising: the same
cosine scores, and ``encode(..., normalize_embeddings=True)`` gives the pair model's vectors; for other heads
they are the same as-is.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from pairsim.errors import ConfigError
from pairsim.export.target import check_target
from pairsim.safe_io import swap_dir

if TYPE_CHECKING:
    from pairsim.model import PairModel


def _modules() -> tuple[Any, Any, Any, Any]:
    """sentence-transformers' Transformer, Pooling, Dense and Normalize classes (6.x paths, else 3.x-5.x)."""
    try:
        from sentence_transformers.base.modules import Dense, Normalize, Transformer
        from sentence_transformers.sentence_transformer.modules import Pooling
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Dense, Normalize, Pooling, Transformer
    return Transformer, Pooling, Dense, Normalize


def check_exportable(model: PairModel) -> None:
    """Raise ConfigError unless ``model`` is tied, its tower says sentence-transformers runs it
    (:attr:`~pairsim.towers.Tower.st_exportable`) and its head scores with the two embeddings alone."""
    if not model.tied or not model.tower_a.st_exportable:
        kind = f"tied {model.config.tower.name}" if model.tied else "untied"
        raise ConfigError(
            f"sentence-transformers export needs a tied transformer model, this one is {kind} "
            "(use --format onnx for other towers)"
        )
    extra = model.head.beyond_embeddings()
    if extra:
        raise ConfigError(
            f"sentence-transformers export cannot carry {extra} of head {model.config.head.name!r} (its similarity "
            f"would be plain {model.head.st_similarity or 'cosine'}); use --format onnx"
        )


def export_sentence_transformers(model: PairModel, directory: str | Path) -> Path:
    """Write ``model``'s tower as a sentence-transformers model directory.

    Args:
        model: A tied pair model with a ``transformer`` tower (tokenizer loaded).
        directory: Output folder: new, empty, or an earlier sentence-transformers export (replaced whole).

    Returns:
        The directory (with ``truncate_dim`` in its ``config_sentence_transformers.json`` when the model has one).

    Raises:
        ConfigError: The model is untied or its tower is not a transformer.
        DataError: ``directory`` holds other files.

    Example:
        >>> export_sentence_transformers(model, "out/st")  # doctest: +SKIP
        >>> SentenceTransformer("out/st").encode(["a cat"]).shape  # doctest: +SKIP
        (1, 384)
    """
    from sentence_transformers import SentenceTransformer

    check_exportable(model)
    tower: Any = model.tower_a
    cfg = tower.config
    Transformer, Pooling, Dense, Normalize = _modules()
    target = Path(directory).expanduser()
    check_target(target, "modules.json", "sentence-transformers export")
    with tempfile.TemporaryDirectory(prefix=".pairsim-st-", dir=target.parent) as tmp:
        encoder_dir = Path(tmp) / "encoder"
        tower.encoder.save_pretrained(encoder_dir)
        tower._require_tokenizer().save_pretrained(encoder_dir)
        modules: list[nn.Module] = [Transformer(str(encoder_dir), max_seq_length=cfg.max_length)]
        hidden = tower.encoder.config.hidden_size
        modules.append(Pooling(hidden, pooling_mode=cfg.pooling))
        if isinstance(tower.proj, nn.Linear):
            dense = Dense(hidden, tower.proj.out_features, bias=True, activation_function=nn.Identity())
            dense.linear.load_state_dict(tower.proj.state_dict())
            modules.append(dense)
        if cfg.normalize:
            modules.append(Normalize())
        similarity = model.head.st_similarity
        st = SentenceTransformer(
            modules=modules,
            device="cpu",
            similarity_fn_name=similarity,
            trust_remote_code=False,
            truncate_dim=model.config.truncate_dim,  # None: full size, as before
        )
        out = Path(tmp) / "st"
        st.save(str(out), create_model_card=True)
        swap_dir(out, target)
    return target
