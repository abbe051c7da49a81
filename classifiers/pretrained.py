"""ImageNet weights for the ResNet backbones, from a local file or torchvision's cache; never downloaded.

Our machines cannot download, so :func:`load_imagenet_weights` takes a torchvision state dict
from ``--weights PATH`` or finds one already in ``torch.hub.get_dir()/checkpoints``. When
there is none it says so and the model trains from scratch. A weights file is untrusted
input: it is read with ``weights_only=True`` and checked against the architecture before
anything is copied.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import torch
import torchvision
from torch import Tensor, nn

log = logging.getLogger(__name__)

_BUILDERS = {"resnet50": torchvision.models.resnet50, "resnet18": torchvision.models.resnet18}


def _skipped(key: str) -> bool:
    # The 1000-way ImageNet classifier never transfers.
    return key.startswith("fc.")


def cached_weight_files(arch: str) -> tuple[list[Path], Path]:
    """torchvision checkpoint files for ``arch`` in the hub cache, and the folder searched."""
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    return sorted(folder.glob(f"{arch}-*.pth")), folder


def _expected_shapes(arch: str) -> dict[str, torch.Size]:
    with torch.device("meta"):  # shapes only: no memory, no init cost
        ref = _BUILDERS[arch](weights=None)
    return {k: v.shape for k, v in ref.state_dict().items() if not _skipped(k)}


def _read_state_dict(path: Path, arch: str) -> dict[str, Tensor]:
    expected = f"expected a torchvision {arch} state dict saved with torch.save"
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, pickle garbage, unsafe globals, ...
        raise ValueError(f"cannot read weights file {path.name}: {type(e).__name__}: {e}; {expected}") from e
    # Tolerate the usual wrappers: {"state_dict": ...}, {"model": ...}, DataParallel's "module.".
    for wrapper in ("state_dict", "model"):
        if isinstance(obj, Mapping) and isinstance(obj.get(wrapper), Mapping):
            obj = obj[wrapper]
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ValueError(f"weights file {path.name} does not hold a state dict of tensors; {expected}")
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in obj.items()}


def _check_architecture(sd: Mapping[str, Tensor], arch: str, name: str) -> None:
    shapes = _expected_shapes(arch)
    # Early torchvision checkpoints predate BatchNorm's num_batches_tracked; it is optional.
    missing = [k for k in shapes if k not in sd and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in sd if k not in shapes and not _skipped(k)]
    mismatched = [
        f"{k}: {tuple(sd[k].shape)} instead of {tuple(s)}"
        for k, s in shapes.items()
        if k in sd and sd[k].shape != s and not (k == "conv1.weight" and sd[k].shape[2:] == s[2:])
    ]
    if missing or unexpected or mismatched:
        problems = []
        if missing:
            problems.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
        if mismatched:
            problems.append(f"{len(mismatched)} shape mismatches (e.g. {'; '.join(mismatched[:2])})")
        raise ValueError(
            f"weights file {name} is not a torchvision {arch} state dict: {', '.join(problems)}"
        )


def load_imagenet_weights(
    model_or_backbone: nn.Module, arch: str, weights_path: str | Path | None = None
) -> str:
    """Load ImageNet ``arch`` weights into a torchvision-style ResNet backbone; return what happened.

    ``model_or_backbone`` is a zoo model (its ``.backbone`` is used) or a torchvision ResNet.
    Source: ``weights_path`` if given (it must exist), else the first
    ``torch.hub.get_dir()/checkpoints/<arch>-*.pth``; with neither, nothing is loaded and a
    "training from scratch" message is returned (and logged). The classifier ``fc.*`` is
    skipped; extra target modules (e.g. SE gates) keep their initialisation. A 3-channel
    conv1 is converted for a 1-channel target as the mean over the RGB kernels,
    W_gray = W.mean(dim=1, keepdim=True).

    Raises FileNotFoundError for a missing ``weights_path`` and ValueError (naming the file
    and what was expected) for an unreadable file, a different architecture, or a target that
    is not a torchvision ``arch``.
    """
    if arch not in _BUILDERS:
        raise ValueError(f"no ImageNet loader for '{arch}'; known: {', '.join(_BUILDERS)}")
    backbone = getattr(model_or_backbone, "backbone", model_or_backbone)
    path = _weights_file(arch, weights_path)
    if path is None:
        msg = (
            f"no ImageNet weights for {arch} found (looked in {cached_weight_files(arch)[1]} for {arch}-*.pth; "
            f"pass --weights PATH to use a local file); training from scratch"
        )
        log.warning(msg)
        return msg

    sd = _read_state_dict(path, arch)
    _check_architecture(sd, arch, path.name)
    target = backbone.state_dict()
    new, notes = _matching_tensors(sd, target, f"cannot load {path.name} ({arch}) into {type(backbone).__name__}",
                                   arch)
    backbone.load_state_dict(new, strict=False)
    kept = [k for k in target if k not in new and not k.endswith("num_batches_tracked")]
    if kept:
        notes.append(f"{len(kept)} tensors outside {arch} keep their init")
    notes.append("classifier fc.* skipped")
    msg = f"loaded ImageNet {arch} weights from {path} ({len(new)} tensors; {'; '.join(notes)})"
    log.info(msg)
    return msg


def _weights_file(arch: str, weights_path: str | Path | None) -> Path | None:
    """The given file (which must exist), else the first cached ``<arch>-*.pth``, else None."""
    if weights_path is None:
        found, _ = cached_weight_files(arch)
        return found[0] if found else None
    path = Path(weights_path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist (expected a torchvision {arch} state dict)")
    return path


def _matching_tensors(sd: dict[str, Tensor], target: dict[str, Tensor], what: str,
                      arch: str) -> tuple[dict[str, Tensor], list[str]]:
    """The file's tensors to load into ``target`` (conv1 averaged to one channel where the target
    is grey) and notes on what was changed; a ValueError starting with ``what`` when any tensor
    has no place in the target or a shape that differs."""
    new: dict[str, Tensor] = {}
    absent, mismatched, notes = [], [], []
    for k, v in sd.items():
        if _skipped(k) or (k.endswith("num_batches_tracked") and k not in target):
            continue
        if k not in target:
            absent.append(k)
            continue
        want = target[k].shape
        if k == "conv1.weight" and want[1] == 1 and v.shape[1] == 3:
            v = v.mean(dim=1, keepdim=True)  # study C: average the RGB kernels
            notes.append("conv1 averaged over RGB to 1 channel")
        if v.shape != want:
            mismatched.append(f"{k}: {tuple(v.shape)} in the file, {tuple(want)} in the model")
            continue
        new[k] = v
    if absent or mismatched:
        problems = []
        if absent:
            problems.append(f"the model has no {', '.join(absent[:3])}{' ...' if len(absent) > 3 else ''}")
        if mismatched:
            problems.append(f"{len(mismatched)} shape mismatches (e.g. {'; '.join(mismatched[:2])})")
        raise ValueError(f"{what}: {', '.join(problems)}; expected a torchvision {arch} backbone")
    return new, notes
