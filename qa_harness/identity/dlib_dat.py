"""Reader of dlib's serialized face-recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`).

Written from dlib's serialization code (dlib/serialize.h, dlib/float_details.h, dlib/dnn/core.h,
layers.h, input.h, loss.h, cuda/tensor.h), not from its parser. The format in brief:
- an integer is a control byte (low 4 bits: byte count, bit 7: negative) then that many little-endian
  magnitude bytes; a string is its length (integer) then its bytes; a bool is ASCII '1' / '0';
- a float or double is a `float_details`: mantissa (int64) and exponent (int16) as integers, the value
  mantissa * 2**exponent (exponents 32000/32001/32002: inf, -inf, NaN);
- a tensor is version 2, four dims (num_samples, k, nr, nc) as integers, then raw little-endian float32;
- a network is written outermost first: each `add_layer` writes its version, its whole subnetwork, then
  its layer's details and training state; tags and skips write a version and their subnetwork only.
So the file is the run of wrapper versions of the outer layers, the input layer, then each layer's
details from the innermost out. `read_dat` walks the known architecture (`ARCH`, dlib's `anet_type` of
tools/python/src/face_recognition.cpp) and checks every version string and shape on the way, so a
file of another layout fails naming the file, the byte offset and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa_harness.errors import CheckpointError

#: dlib float_details exponents that stand for inf, -inf and NaN.
_SPECIAL = {32000: np.inf, 32001: -np.inf, 32002: np.nan}


@dataclass(frozen=True, slots=True)
class Node:
    """One level of dlib's network, outermost first: kind is con, affine, relu, max_pool, avg_pool,
    add_prev, fc, tag or skip; name is the torch parameter prefix (layers with weights)."""

    kind: str
    name: str = ""
    filters: int = 0
    size: int = 0
    stride: int = 1


@dataclass(frozen=True, slots=True)
class Block:
    """One residual block (dlib's `ares` / `ares_down`): filters, and whether it halves the resolution."""

    filters: int
    down: bool


#: Input to output: alevel4 (3 x 32), alevel3 (down + 3 x 64), alevel2 (down + 2 x 128), alevel1
#: (down + 2 x 256), alevel0 (down, 256).
BLOCKS = (
    *[Block(32, False)] * 3,
    Block(64, True),
    *[Block(64, False)] * 3,
    Block(128, True),
    *[Block(128, False)] * 2,
    Block(256, True),
    *[Block(256, False)] * 2,
    Block(256, True),
)


def _block_nodes(index: int, block: Block) -> list[Node]:
    """relu<add_prev<block<tag1>>>, the `down` form with avg_pool<2,2,2,2,skip1<tag2<...>>> on the skip path;
    dlib's block is affine<con<N,3,3,1,1,relu<affine<con<N,3,3,stride,stride,...>>>>>."""
    p, stride = f"blocks.{index}.", 2 if block.down else 1
    inner = [
        Node("affine", p + "bn_b"),
        Node("con", p + "conv_b", block.filters, 3, 1),
        Node("relu"),
        Node("affine", p + "bn_a"),
        Node("con", p + "conv_a", block.filters, 3, stride),
        Node("tag"),
    ]
    if block.down:
        return [Node("relu"), Node("add_prev"), Node("avg_pool", size=2, stride=2), Node("skip"), Node("tag"), *inner]
    return [Node("relu"), Node("add_prev"), *inner]


#: The whole network below loss_metric, outermost first (the stream's order of wrapper versions).
ARCH: tuple[Node, ...] = (
    Node("fc", "fc", 128),
    Node("avg_pool", size=0, stride=1),  # avg_pool_everything
    *[node for i in reversed(range(len(BLOCKS))) for node in _block_nodes(i, BLOCKS[i])],
    Node("max_pool", size=3, stride=2),
    Node("relu"),
    Node("affine", "stem.bn"),
    Node("con", "stem.conv", 32, 7, 2),
)


class _Reader:
    """dlib's primitive encodings over the bytes of one file; errors name the file and the offset."""

    def __init__(self, path: Path) -> None:
        self.path, self.data, self.pos = path, path.read_bytes(), 0

    def fail(self, problem: str) -> CheckpointError:
        return CheckpointError(
            f"{self.path}: byte {self.pos}: {problem} (not dlib's face-recognition ResNet v1 layout)"
        )

    def take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise self.fail(f"file ends, {count} more bytes expected")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def int(self) -> int:
        control = self.take(1)[0]
        size = control & 0x0F
        if size == 0 or size > 8:
            raise self.fail(f"bad integer control byte 0x{control:02x}")
        value = int.from_bytes(self.take(size), "little")
        return -value if control & 0x80 else value

    def string(self) -> str:
        return self.take(self.int()).decode("latin-1")

    def bool(self) -> bool:
        char = self.take(1)
        if char not in (b"0", b"1"):
            raise self.fail(f"bad bool byte {char!r}")
        return char == b"1"

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        return _SPECIAL[exponent] if exponent in _SPECIAL else float(np.ldexp(float(mantissa), exponent))

    def expect(self, what: str, got: object, allowed: tuple) -> None:
        if got not in allowed:
            raise self.fail(f"{what}: expected {' or '.join(map(repr, allowed))}, found {got!r}")

    def tensor(self) -> np.ndarray:
        """A resizable_tensor: (num_samples, k, nr, nc) float32."""
        self.expect("tensor version", self.int(), (2,))
        shape = tuple(self.int() for _ in range(4))
        if min(shape) < 0:
            raise self.fail(f"negative tensor shape {shape}")
        count = int(np.prod(shape))
        return np.frombuffer(self.take(4 * count), dtype="<f4").reshape(shape).astype(np.float32)

    def alias(self) -> tuple[int, ...]:
        """An alias_tensor: version 1 and its shape only."""
        self.expect("alias_tensor version", self.int(), (1,))
        return tuple(self.int() for _ in range(4))


def _con(r: _Reader, node: Node, out: dict[str, np.ndarray]) -> None:
    version = r.string()
    r.expect(f"{node.name} layer", version, ("con_4", "con_5", "con_6"))
    params = r.tensor().reshape(-1)
    filters, nr, nc, sy, sx, py, px = (r.int() for _ in range(7))
    pad = 0 if node.stride != 1 else node.size // 2
    r.expect(f"{node.name} (filters, size, stride, padding)", (filters, nr, nc, sy, sx, py, px),
             ((node.filters, node.size, node.size, node.stride, node.stride, pad, pad),))  # fmt: skip
    shape, _ = r.alias(), r.alias()  # filters, biases
    for _ in range(4):  # learning-rate and weight-decay multipliers
        r.float()
    use_bias = r.bool() if version in ("con_5", "con_6") else True
    if version == "con_6" and r.bool():
        raise r.fail(f"{node.name}: a convolution with a fused relu is not part of this network")
    weights = int(np.prod(shape))
    r.expect(f"{node.name} filter shape", (shape[0], shape[2], shape[3]), ((filters, nr, nc),))
    r.expect(f"{node.name} parameter count", params.size, (weights + (filters if use_bias else 0),))
    out[f"{node.name}.weight"] = params[:weights].reshape(shape)
    out[f"{node.name}.bias"] = params[weights:] if use_bias else np.zeros(filters, np.float32)


def _bn_as_affine(r: _Reader, name: str, out: dict[str, np.ndarray]) -> None:
    """bn_con2 read into an affine layer the way dlib's affine_(bn_) does it, in float32."""
    params = r.tensor().reshape(-1)
    r.alias(), r.alias()  # gamma, beta
    r.tensor(), r.tensor()  # means and invstds of the last training batch
    means, variances = r.tensor().reshape(-1), r.tensor().reshape(-1)  # the running statistics
    r.int(), r.int()  # num_updates, running_stats_window_size
    eps = [r.float() for _ in range(5)][-1]  # four multipliers, then eps
    half = params.size // 2
    scale = params[:half] / np.sqrt(variances + np.float32(eps))
    out[f"{name}.scale"], out[f"{name}.shift"] = scale, params[half:] - scale * means


def _affine(r: _Reader, node: Node, out: dict[str, np.ndarray]) -> None:
    version = r.string()
    r.expect(f"{node.name} layer", version, ("affine_", "affine_2", "bn_con2"))
    if version == "bn_con2":
        _bn_as_affine(r, node.name, out)
        return
    params = r.tensor().reshape(-1)
    gamma, _ = r.alias(), r.alias()
    r.expect(f"{node.name} mode", r.int(), (0,))  # CONV_MODE: one scale per channel
    if version == "affine_2" and r.bool():
        raise r.fail(f"{node.name}: a disabled affine layer is not part of this network")
    half = int(np.prod(gamma))
    r.expect(f"{node.name} parameter count", params.size, (2 * half,))
    out[f"{node.name}.scale"], out[f"{node.name}.shift"] = params[:half], params[half:]


def _pool(r: _Reader, node: Node) -> None:
    r.expect(f"{node.kind} layer", r.string(), (f"{node.kind}_2",))
    pad = 0 if node.stride != 1 or node.size == 0 else node.size // 2
    want = (node.size, node.size, node.stride, node.stride, pad, pad)
    r.expect(f"{node.kind} (size, stride, padding)", tuple(r.int() for _ in range(6)), (want,))


def _fc(r: _Reader, node: Node, out: dict[str, np.ndarray]) -> None:
    version = r.string()
    r.expect("fc layer", version, ("fc_2", "fc_3"))
    outputs, inputs = r.int(), r.int()
    r.expect("fc outputs", outputs, (node.filters,))
    params = r.tensor().reshape(-1)
    r.alias(), r.alias()
    r.expect("fc bias mode (FC_NO_BIAS)", r.int(), (1,))
    for _ in range(4):
        r.float()
    if version == "fc_3":
        r.bool()
    r.expect("fc parameter count", params.size, (inputs * outputs,))
    out["fc.weight"] = params.reshape(inputs, outputs).T.copy()  # dlib: output = input (N, in) @ W (in, out)


def _details(r: _Reader, node: Node, out: dict[str, np.ndarray]) -> None:
    if node.kind == "con":
        _con(r, node, out)
    elif node.kind == "affine":
        _affine(r, node, out)
    elif node.kind in ("max_pool", "avg_pool"):
        _pool(r, node)
    elif node.kind == "fc":
        _fc(r, node, out)
    elif node.kind == "add_prev":
        r.expect("add_prev layer", r.string(), ("add_prev_",))
    else:  # relu
        version = r.string()
        r.expect("relu layer", version, ("relu_", "relu_2"))
        if version == "relu_2" and r.bool():
            raise r.fail("a disabled relu is not part of this network")


def _input(r: _Reader, out: dict[str, np.ndarray]) -> None:
    r.expect("input layer", r.string(), ("input_rgb_image_sized",))
    out["input.mean"] = np.array([r.float() for _ in range(3)], dtype=np.float32)
    r.expect("input size", (r.int(), r.int()), ((150, 150),))


def _node(r: _Reader, index: int, out: dict[str, np.ndarray]) -> None:
    """dlib's add_layer / add_tag_layer / add_skip_layer deserialisation, recursively."""
    node = ARCH[index]
    if node.kind in ("tag", "skip"):
        r.expect(f"{node.kind} layer version", r.int(), (1,))
        _node(r, index + 1, out)
        return
    innermost = index == len(ARCH) - 1
    version = r.int()
    r.expect(f"layer {index} ({node.kind}) version", version, (2, 3) if innermost else (1, 2))
    if innermost:
        _input(r, out)
    else:
        _node(r, index + 1, out)
    _details(r, node, out)
    for _ in range(3):  # setup called, gradient stale, output and gradient disabled
        r.bool()
    r.tensor(), r.tensor()  # x_grad, cached_output
    if innermost:
        r.tensor()  # grad_final
        if version == 3:
            r.int()  # sample expansion factor
    elif version == 2:
        r.tensor()  # params_grad


def read_dat(path: Path) -> dict[str, np.ndarray]:
    """The .dat -> named float32 arrays: `{name}.weight`/`.bias` (conv, (out, in, k, k)), `{name}.scale`/
    `.shift` (affine per channel), `fc.weight` (128, 256), `input.mean` (RGB means); CheckpointError
    naming the file and the byte offset where the layout differs from dlib's ResNet v1."""
    r = _Reader(Path(path))
    out: dict[str, np.ndarray] = {}
    r.expect("loss layer version", r.int(), (1,))
    loss = r.string()
    r.expect("loss layer", loss, ("loss_metric_", "loss_metric_2"))
    if loss == "loss_metric_2":
        r.float(), r.float()  # margin, distance threshold
    _node(r, 0, out)
    if r.pos != len(r.data):
        raise r.fail(f"{len(r.data) - r.pos} bytes left after the network")
    return out
