"""Training a registered classifier on an in-memory FaceDataset.

The loop never touches a Python image object: batches are index slices of one uint8 tensor,
augmented on the whole batch with kornia, run on the measured-fastest numeric path. Every
epoch ends with an atomic checkpoint holding model, optimiser, scheduler and all RNG states,
so ``resume`` continues exactly where the interrupted run would have gone.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from classifiers.checkpoint import TRAIN_STATE_KIND, model_artifact, read_checkpoint, save_model
from classifiers.inference import predict_logits
from classifiers.metrics import classification_report
from classifiers.registry import create_model, model_info
from classifiers.train_config import TrainConfig
from ferganaug.data.augment import augment_batch, preset
from ferganaug.data.dataset import FaceDataset
from ferganaug.data.errors import DataError
from ferganaug.data.imbalance import BatchSampler, class_weights, logit_adjustment
from ferganaug.engine import Hook, RunFolder, check_finite, run_loop, save_training_state
from ferganaug.engine.distributed import (
    all_reduce_sum, barrier, broadcast_object, data_parallel, gather_rows, join_from_environment, per_rank_batch,
    shard_batch, shard_range, synchronised_batchnorm,
)
from ferganaug.utils.hardware import resolve_device
from ferganaug.utils.precision import NumericPath, choose_path
from ferganaug.utils.progress import progress_bar
from ferganaug.utils.seeding import make_generator, seed_everything

log = logging.getLogger(__name__)


SYNTHETIC_COLUMN = "synthetic"  # FaceDataset.info: bool per row, True for faces added from a synthetic folder


def synthetic_rows(data: FaceDataset) -> torch.Tensor:
    """``data``'s synthetic column (bool per row); all False when it has none."""
    mask = data.info.get(SYNTHETIC_COLUMN)
    return torch.zeros(len(data), dtype=torch.bool) if mask is None else mask.bool()


@dataclass
class TrainData:
    """The training and validation views a run uses (validation may be carved out of train).

    ``synthetic_weight``: the factor on the loss term of each synthetic training row (rows
    marked in ``train.info["synthetic"]``); real rows weigh 1."""

    train: FaceDataset
    val: FaceDataset
    val_source: str
    synthetic_weight: float = 1.0

    @property
    def synthetic(self) -> torch.Tensor:
        """Which training rows are synthetic (bool per row)."""
        return synthetic_rows(self.train)

    def row_weights(self) -> torch.Tensor | None:
        """The loss factor of every training row, or None when every row weighs 1."""
        synthetic = self.synthetic
        if self.synthetic_weight == 1.0 or not synthetic.any():
            return None
        return torch.where(synthetic, float(self.synthetic_weight), 1.0)


def split_train_val(data: FaceDataset, seed: int, val_fraction: float = 0.1) -> TrainData:
    """Use the data's own val split, or carve a stratified one from train when it has none."""
    train = data.split("train")
    if len(train) == 0:
        raise ValueError(f"dataset '{data.source}' has no training split")
    if data.has_split("val"):
        return TrainData(train, data.split("val"), "val split")
    g = make_generator(seed + 7919)
    val_mask = torch.zeros(len(train), dtype=torch.bool)
    for c in range(len(train.class_names)):
        rows = (train.labels == c).nonzero().flatten()
        take = int(round(len(rows) * val_fraction))
        if take and len(rows) > 1:
            val_mask[rows[torch.randperm(len(rows), generator=g)[:take]]] = True
    if not val_mask.any():
        log.warning("'%s' is too small to carve a validation split (%d training faces): validation metrics are "
                    "undefined (null), and the last epoch's weights are kept", data.source, len(train))
    return TrainData(train.subset(~val_mask), train.subset(val_mask), f"{val_fraction:.0%} of train, stratified")


def build_optimizer(config: TrainConfig, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    return torch.optim.SGD(
        params, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov and config.momentum > 0,
        weight_decay=config.weight_decay,
    )


def build_scheduler(config: TrainConfig, optimizer: torch.optim.Optimizer,
                    steps_per_epoch: int) -> LRScheduler | ReduceLROnPlateau | None:
    if config.scheduler == "plateau":
        mode = "min" if config.monitor == "val_loss" else "max"
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=mode, factor=config.plateau_factor, patience=config.plateau_patience
        )
    if config.scheduler == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.lr, epochs=config.epochs, steps_per_epoch=steps_per_epoch
        )
    if config.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    return None


def training_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    class_weight: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
    logit_shift: torch.Tensor | None = None,
    row_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """The cross-entropy a batch trains on.

    ``logit_shift`` (per class, e.g. :func:`ferganaug.data.imbalance.logit_adjustment`) is
    added to the logits here only; prediction uses the plain logits. ``row_weight`` multiplies
    each row's term (which already carries its class weight). The normaliser is the one
    ``F.cross_entropy`` uses without row weights - the batch size, or with class weights the
    sum of the batch labels' class weights - so a row of weight 0 adds nothing to the loss or
    its gradient, and a weight scales exactly its rows' terms.
    """
    if logit_shift is not None:
        logits = logits + logit_shift
    if row_weight is None:
        return F.cross_entropy(logits, labels, weight=class_weight, label_smoothing=label_smoothing)
    terms = F.cross_entropy(logits, labels, weight=class_weight, label_smoothing=label_smoothing, reduction="none")
    total = (terms * row_weight).sum()
    return total / class_weight[labels].sum() if class_weight is not None else total / len(labels)


def _monitor_value(config: TrainConfig, val: dict) -> float:
    """Larger is better for every monitor (val loss is negated)."""
    return {"val_acc": val["accuracy"], "val_loss": -val["loss"], "val_macro_f1": val["macro_f1"]}[config.monitor]


class Trainer:
    """One classifier training run: its epoch, its state and its hooks; the run engine
    (ferganaug.engine) owns the folder, the checkpoints and the loop."""

    state_kind = TRAIN_STATE_KIND
    position_key = "epoch"

    def __init__(
        self,
        config: TrainConfig,
        data: TrainData,
        run_dir: Path | RunFolder,
        progress: bool = True,
        on_epoch: Callable[[dict], None] | None = None,
    ) -> None:
        self.config = config
        self.data = data
        self.folder = run_dir if isinstance(run_dir, RunFolder) else RunFolder.at(run_dir)
        self.run_dir = self.folder.path
        self.progress = progress
        self.on_epoch = on_epoch
        self.device = resolve_device(config.device)
        self.class_names = data.train.class_names
        self.folder.checkpoints_dir.mkdir(parents=True, exist_ok=True)

        weight = self._checked_class_weight()  # before anything slow: bad data or options fail at once
        seed_everything(config.seed)
        self._build_model()
        self.loss_weight = None if weight is None else weight.to(self.device)
        self.logit_shift = self._logit_shift()
        row_weight = data.row_weights()
        self.row_weight = None if row_weight is None else row_weight.to(self.device)
        self.sample_generator = make_generator(config.seed)
        # each rank augments its own shard with its own stream; rank 0's is the single-process one
        self.augment_generator = make_generator(config.seed + 1 + 7919 * self.group.rank)
        self.sampler = self._sampler(config.synthetic_share)
        # The real finish draws as many batches as the other epochs (the schedules count on
        # it), with every emotion's draws on its real faces.
        self.real_sampler = self._sampler(0.0) if config.real_finish_epochs else None
        self.augment = preset(config.augment)
        self.optimizer = build_optimizer(config, [p for p in self.model.parameters()])
        self.scheduler = build_scheduler(config, self.optimizer, len(self.sampler))
        self.epoch = 0
        self.best_score = -math.inf
        self.best_epoch = -1
        self.bad_epochs = 0
        # Keep the training images where the model runs: one copy, indexed per batch.
        self.train_images = data.train.images.to(self.device)
        self.train_labels = data.train.labels.to(self.device)

    # -- construction -------------------------------------------------------------------------
    def _checked_class_weight(self) -> torch.Tensor | None:
        """The loss's class weights (None without), after checking that the options fit the data."""
        config = self.config
        if config.real_finish_epochs and not self.data.synthetic.any():
            raise DataError("real_finish_epochs finishes on real faces after synthetic ones, but the training "
                            "data has no synthetic faces (give a synthetic folder)")
        if not config.class_weights:
            return None
        try:
            return class_weights(self.data.train.class_counts(), config.class_weights)
        except ValueError as err:
            names = ", ".join(self.class_names)
            raise DataError(f"class weights {config.class_weights!r}: {err} (classes: {names})") from None

    def _build_model(self) -> None:
        """The model on the measured-fastest numeric path, joined to the process group when
        torchrun started this one (alone: world size 1)."""
        config = self.config
        self.model_kwargs = dict(config.model_kwargs)
        self.model = self._new_model(load_weights=True)
        self.frozen_by_design = bool(getattr(self.model, "backbone_frozen", False))
        if self.frozen_by_design and not self._pretrained_backbone():
            log.warning("%s: no ImageNet weights, so the backbone is trained from scratch instead of frozen",
                        config.model)
        self.group = join_from_environment(self.device)
        per_rank_batch(config.batch_size, self.group)  # the recipe's batch is the global batch
        self.path, self.probe = broadcast_object(choose_path(
            lambda: self._new_model(load_weights=False), self.device, config.batch_size, config.precision,
            num_classes=len(self.class_names),
        ), self.group)  # every rank on rank 0's measured path
        self.model = self.path.prepare_model(self.model.to(self.device))
        if config.sync_batchnorm:
            self.model = synchronised_batchnorm(self.model, self.group, self.device)
        self.net = data_parallel(self.model, self.group, self.device)

    def _sampler(self, synthetic_share: float | None) -> BatchSampler:
        return BatchSampler(
            self.data.train.labels, self.config.batch_size, self.sample_generator,
            balanced=self.config.balanced_sampler,
            drop_last=len(self.data.train) > self.config.batch_size,  # no size-1 batches for BatchNorm
            synthetic=self.data.synthetic, synthetic_share=synthetic_share,
        )

    @property
    def finish_start(self) -> int | None:
        """The first epoch (0-based) of the real finish; None without one."""
        return self.config.epochs - self.config.real_finish_epochs if self.real_sampler is not None else None

    def epoch_sampler(self) -> BatchSampler:
        """The sampler of the current epoch: the real-only one during the real finish."""
        if self.finish_start is not None and self.epoch >= self.finish_start:
            return self.real_sampler
        return self.sampler

    def _new_model(self, load_weights: bool) -> nn.Module:
        kwargs = dict(self.model_kwargs)
        if load_weights and model_info(self.config.model)["imagenet_arch"]:
            # Transfer designs: the given file, else torchvision's cache; never a download.
            kwargs.update(weights=self.config.weights, pretrained=True)
        return create_model(
            self.config.model, num_classes=len(self.class_names), class_names=tuple(self.class_names), **kwargs
        )

    def _logit_shift(self) -> torch.Tensor | None:
        """tau * log(prior) from the training rows' class counts (synthetic faces included:
        they are part of what the loss sees); None when logit adjustment is off."""
        tau = self.config.logit_adjust_tau
        if tau == 0:
            return None
        if self.config.balanced_sampler or self.config.class_weights:
            log.warning("logit adjustment with %s: both correct for the class prior, so rare classes are favoured "
                        "twice", "the balanced sampler" if self.config.balanced_sampler else "class weights")
        return logit_adjustment(self.data.train.class_counts(), tau).to(self.device)

    def _pretrained_backbone(self) -> bool:
        status = getattr(self.model, "pretrained_status", None) or ""
        return bool(status) and not status.startswith("no ImageNet weights")

    def _backbone_should_freeze(self) -> bool:
        """Freeze only a *pretrained* backbone: during the recipe's first freeze_epochs, or
        throughout for designs built frozen (resnet50-transfer). A random backbone always trains."""
        if not hasattr(self.model, "freeze_backbone") or not self._pretrained_backbone():
            return False
        return self.frozen_by_design or self.epoch < self.config.freeze_epochs

    # -- one epoch ----------------------------------------------------------------------------
    def train_epoch(self) -> dict:
        self.model.train()
        if hasattr(self.model, "freeze_backbone"):
            self.model.freeze_backbone(self._backbone_should_freeze())
        total_loss, correct, seen = 0.0, 0, 0
        start = time.perf_counter()
        sampler = self.epoch_sampler()
        batches = progress_bar(
            sampler, total=len(sampler), desc=f"epoch {self.epoch + 1}/{self.config.epochs}",
            leave=False, enabled=self.progress and self.group.is_main, unit="batch",
        )
        for index in batches:
            index = shard_batch(index, self.group).to(self.device)  # every rank drew the same global batch
            images = self.train_images[index]
            labels = self.train_labels[index]
            x = augment_batch(images.float().div_(255.0), self.augment, self.augment_generator)
            x = self.path.prepare_input(x.mul(2.0).sub(1.0))
            with self.path.autocast(self.device):
                logits = self.net(x)
            loss = self.batch_loss(logits, index)
            check_finite(loss, "training", f"epoch {self.epoch + 1}", self.folder.last_checkpoint, "try a lower --lr")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            if isinstance(self.scheduler, torch.optim.lr_scheduler.OneCycleLR):
                self.scheduler.step()
            n = labels.shape[0]
            total_loss += loss.item() * n
            correct += int((logits.argmax(1) == labels).sum())
            seen += n
            batches.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
        elapsed = time.perf_counter() - start
        total_loss, correct, seen = all_reduce_sum(torch.tensor([total_loss, correct, seen], dtype=torch.float64),
                                                   self.group).tolist()
        return {
            "train_loss": total_loss / max(seen, 1),
            "train_acc": correct / max(seen, 1),
            "images_per_s": seen / elapsed,
            "epoch_seconds": elapsed,
        }

    def batch_loss(self, logits: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """The training loss of the rows ``index`` of the training split, given their logits."""
        return training_loss(
            logits.float(), self.train_labels[index], self.loss_weight, self.config.label_smoothing,
            self.logit_shift, None if self.row_weight is None else self.row_weight[index],
        )

    def evaluate(self, ds: FaceDataset) -> dict:
        """A report on ``ds``; with several ranks each predicts its shard and the logits are
        gathered, so every face counts once and every rank sees the same report."""
        mine = ds.images[shard_range(len(ds), self.group)]
        logits = predict_logits(self.model, mine, self.path, self.device, self.config.eval_batch_size)
        logits = gather_rows(logits.float().cpu(), self.group)
        loss = float(F.cross_entropy(logits, ds.labels)) if len(ds) else float("nan")
        return classification_report(ds.labels, logits, self.class_names, loss=loss)

    # -- the run --------------------------------------------------------------------------------
    @property
    def position(self) -> int:
        return self.epoch

    def fit(self) -> dict:
        """Train the remaining epochs; returns the best validation report."""
        run_loop(self._run_epoch, self.epoch, self.config.epochs, [
            Hook("log", 1, self._log_epoch),
            Hook("checkpoint", 1, lambda epoch: self.save_state()),
            Hook("early stopping", 1, self._should_stop),
        ])
        return self.restore_best()

    def _run_epoch(self) -> int:
        """One epoch and its validation; the best weights so far go to checkpoints/best.pt."""
        train_stats = self.train_epoch()
        val = self.evaluate(self.data.val)
        score = _monitor_value(self.config, val)
        self._step_epoch_scheduler(score)
        if self.epoch == self.finish_start:  # the model that leaves training must have finished on real faces
            self.best_score, self.bad_epochs = -math.inf, 0
        improved = score > self.best_score or len(self.data.val) == 0  # no validation: the latest is the best
        if improved:
            self.best_score, self.best_epoch, self.bad_epochs = score, self.epoch, 0
        else:
            self.bad_epochs += 1
        self.last_row = {
            "epoch": self.epoch + 1,
            **train_stats,
            "val_loss": val["loss"],
            "val_acc": val["accuracy"],
            "val_macro_f1": val["macro_f1"],
            "lr": self.optimizer.param_groups[0]["lr"],
            "best_epoch": self.best_epoch + 1,
        }
        self.epoch += 1
        if improved and self.group.is_main:
            save_model(self.folder.best_checkpoint, self.artifact({"epoch": self.epoch, "val": val}))
        return self.epoch

    def _log_epoch(self, epoch: int) -> None:
        if not self.group.is_main:  # rank 0 alone writes the run folder
            return
        row = self.last_row
        self.folder.append_stats(row)
        if self.on_epoch:
            self.on_epoch(row)
        log.info(
            "epoch %d/%d loss %.4f acc %.4f | val loss %.4f acc %.4f | %.0f img/s",
            row["epoch"], self.config.epochs, row["train_loss"], row["train_acc"], row["val_loss"],
            row["val_acc"], row["images_per_s"],
        )

    def _should_stop(self, epoch: int) -> bool:
        if self.finish_start is not None and epoch <= self.finish_start:
            return False  # an early stop would skip the real finish: patience counts within it
        if self.config.early_stopping is not None and self.bad_epochs >= self.config.early_stopping:
            log.info("early stopping: no improvement of %s for %d epochs", self.config.monitor, self.bad_epochs)
            return True
        return False

    def _step_epoch_scheduler(self, score: float) -> None:
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            metric = -score if self.config.monitor == "val_loss" else score
            self.scheduler.step(metric)
        elif isinstance(self.scheduler, torch.optim.lr_scheduler.CosineAnnealingLR):
            self.scheduler.step()

    def restore_best(self) -> dict:
        """Load the best-scoring weights back into the model (early stopping's restore)."""
        barrier(self.group)  # rank 0 has written best.pt
        if self.folder.best_checkpoint.exists():
            artifact = read_checkpoint(self.folder.best_checkpoint)
            self.model.load_state_dict(artifact["state_dict"])
            return artifact["info"].get("val", {})
        return {}

    # -- checkpoints ----------------------------------------------------------------------------
    def artifact(self, info: dict | None = None) -> dict:
        return model_artifact(
            self.model, self.config.model, self.model_kwargs, self.class_names,
            info={"train_config": self.config.to_dict(), **(info or {})},
        )

    def save_state(self) -> None:
        """checkpoints/last.pt, through the engine (by rank 0 alone)."""
        if self.group.is_main:
            save_training_state(self.folder, self)

    def state_dict(self) -> dict:
        """Everything a resumed run needs; the model fields double as a loadable classifier."""
        return {
            **{k: v for k, v in self.artifact().items() if k not in ("kind", "format_version")},
            "epoch": self.epoch,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "rng": {"sampler": self.sample_generator.get_state(), "augment": self.augment_generator.get_state()},
            "numeric_path": self.path.to_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["state_dict"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = state["epoch"]
        self.best_score = state["best_score"]
        self.best_epoch = state["best_epoch"]
        self.bad_epochs = state["bad_epochs"]
        self.sample_generator.set_state(state["rng"]["sampler"])
        self.augment_generator.set_state(state["rng"]["augment"])
        saved_path = state.get("numeric_path", {})
        self.path = NumericPath(saved_path.get("precision", self.path.precision),
                                saved_path.get("channels_last", self.path.channels_last))
        self.model = self.path.prepare_model(self.model)

    def describe(self) -> dict:
        """Facts for config.json: what was actually chosen and measured."""
        return {
            "device": str(self.device),
            "numeric_path": self.path.to_dict(),
            "precision_probe_images_per_s": self.probe,
            "distributed": self.group.describe(),
            "train_size": len(self.data.train),
            "val_size": len(self.data.val),
            "val_source": self.data.val_source,
            "train_class_counts": dict(zip(self.class_names, self.data.train.class_counts())),
            "loss_class_weights": None if self.loss_weight is None else self.loss_weight.tolist(),
            "synthetic_rows": int(self.data.synthetic.sum()),
            "synthetic_loss_weight": self.data.synthetic_weight,
            "logit_adjustment": None if self.logit_shift is None else self.logit_shift.tolist(),
            "model_parameters": sum(p.numel() for p in self.model.parameters()),
            "pretrained": getattr(self.model, "pretrained_status", None),
            "backbone_frozen": self._backbone_should_freeze(),
        }
