"""The GAN's configuration: every weight and size of a `fergan train` run, validated on creation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ferganaug.emotions import EMOTIONS
from ferganaug.engine.config import config_from_dict, config_to_dict

# --expr-confidence real: per target emotion, the confidence the classifier has in a typical real face
REAL_CONFIDENCE = "real"


@dataclass(frozen=True)
class GANConfig:
    """The GAN's config. The defaults are the ``builtin`` preset (ferganaug/configs/builtin.toml,
    measured on the built-in faces); the preset files are where recipes are chosen and pinned."""

    steps: int = 4000
    batch_size: int = 16
    lr_g: float = 2e-4
    lr_d: float = 8e-4  # two time-scale update rule: the discriminator learns faster
    betas: tuple[float, float] = (0.5, 0.999)
    w_adv: float = 10.0
    w_fm: float = 10.0
    w_expr: float = 5.0
    # Cycle and identity terms each cost a generator pass: their steps are skipped at weight 0.
    w_cycle: float = 0.0
    w_id: float = 0.0
    w_mask: float = 5.0
    w_r1: float = 0.0
    # Matching-aware discriminator (Reed et al. 2016): real faces of another emotion, judged at
    # the target's map, count as fake, so each map learns its expression from real faces and
    # not only from the edits' artefacts. 0: off (and no extra faces drawn).
    w_mismatch: float = 0.0
    w_change: float = 30.0  # L1 between edit and source: the smallest edit that shows the expression
    # Expression loss stops at this target probability (0: plain CE), or with REAL_CONFIDENCE at the
    # classifier's median confidence in real faces of each target emotion: asking for more than
    # real faces show is paid in caricature.
    expr_confidence: float | str = REAL_CONFIDENCE
    # DiffAugment: D judges shifted/rotated/mirrored views of real and fake alike, against
    # memorising a few hundred real faces of a rare emotion.
    d_augment: bool = False
    # Against adversarial textures (stripes a frozen classifier reads as an expression): the
    # classifier judges a low-passed view, and the change itself must be smooth.
    expr_blur: float = 0.0  # Gaussian sigma (pixels) of the classifier's view of a fake; 0: off
    w_smooth: float = 0.0  # total variation of (edit - source)
    mask_min_area: float = 0.01
    mask_max_area: float = 0.12  # expressions move brows, lids, nose and mouth: a small part of a face
    ema_decay: float = 0.999
    g_width: int = 16  # sized for 2 CPU cores
    g_res_blocks: int = 3
    g_decoder: str = "shuffle"  # see networks.DECODERS
    d_width: int = 32
    condition: str = "label"
    colour: str = "residual"
    source_emotions: tuple[str, ...] = ("neutral",)
    seed: int = 0
    precision: str = "auto"
    device: str = "auto"
    log_every: int = 25
    sample_every: int = 200
    checkpoint_every: int = 200

    def __post_init__(self) -> None:
        conf = self.expr_confidence
        if isinstance(conf, str) and conf != REAL_CONFIDENCE:
            raise ValueError(f"expr_confidence must be a probability in [0, 1) or '{REAL_CONFIDENCE}', got '{conf}'")
        if not isinstance(conf, str) and not 0 <= conf < 1:
            raise ValueError(f"expr_confidence must be a probability in [0, 1) or '{REAL_CONFIDENCE}', got {conf}")
        for name in ("steps", "batch_size", "log_every", "sample_every", "checkpoint_every", "g_width", "d_width",
                     "g_res_blocks"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 (BatchNorm), got {self.batch_size}")
        for name in ("lr_g", "lr_d"):
            if not 0 < getattr(self, name) < float("inf"):
                raise ValueError(f"{name} must be a positive finite number, got {getattr(self, name)}")
        weights = ("w_adv", "w_fm", "w_expr", "w_cycle", "w_id", "w_mask", "w_r1", "w_mismatch", "w_change", "w_smooth",
                   "expr_blur")
        for name in weights:
            if not 0 <= getattr(self, name) < float("inf"):
                raise ValueError(f"{name} must be a finite number >= 0, got {getattr(self, name)}")
        if not 0 <= self.ema_decay <= 1:
            raise ValueError(f"ema_decay must be in [0, 1], got {self.ema_decay}")
        unknown = [e for e in self.source_emotions if e not in EMOTIONS]
        if unknown or not self.source_emotions:
            raise ValueError(f"source_emotions must name emotions of {', '.join(EMOTIONS)}, got {list(self.source_emotions)}")

    @property
    def target_emotions(self) -> tuple[str, ...]:
        return tuple(e for e in EMOTIONS if e not in self.source_emotions)

    def to_dict(self) -> dict:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "gan config") -> "GANConfig":
        return config_from_dict(cls, data, where)
