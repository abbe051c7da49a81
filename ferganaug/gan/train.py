"""Training the conditional expression GAN.

One step: sample source faces (neutral by default) and target emotions drawn uniformly over
the targets (so the rare ones get as many updates as the common ones), plus real faces of
exactly those target emotions for the discriminator and for feature matching. Losses are
those of study A (LSGAN, feature matching, expression) plus cycle, identity, change and mask
terms; every weight is a config field, and the committed presets (ferganaug/configs/) choose
them. An EMA copy of the generator is what samples and synthesis use.

Under torchrun every rank draws the same global batch from the same seeded stream and trains
DistributedDataParallel copies of G and D on its own contiguous shard, so ``batch_size`` means
the global batch at any world size; rank 0 alone writes the run folder.
"""

from __future__ import annotations

import copy
import logging
import time
from functools import cached_property
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

from ferganaug.data.augment import AugmentConfig, augment_batch, to_model_input
from ferganaug.data.dataset import FaceDataset
from ferganaug.emotions import EMOTIONS, EMOTION_INDEX
from ferganaug.gan.artifact import generator_artifact
from ferganaug.gan.config import REAL_CONFIDENCE, GANConfig
from ferganaug.gan.expression import FrozenExpressionClassifier, typical_real_confidence
from ferganaug.gan.losses import (
    confident_cross_entropy,
    feature_matching_loss,
    gaussian_blur,
    lsgan_discriminator_loss,
    lsgan_fake_loss,
    lsgan_generator_loss,
    mask_regularisation,
    r1_penalty,
    total_variation,
)
from ferganaug.gan.networks import Generator, PatchDiscriminator
from ferganaug.gan.pools import FacePools, check_gan_data
from ferganaug.engine import Hook, RunFolder, check_finite, run_loop, save_training_state
from ferganaug.engine.distributed import (
    broadcast_object, data_parallel, in_global_batch, join_from_environment, mean_over_ranks, per_rank_batch,
    shard_batch,
)
from ferganaug.utils.files import atomic_torch_save
from ferganaug.utils.hardware import resolve_device
from ferganaug.utils.precision import NumericPath, pick_fastest
from ferganaug.utils.progress import progress_bar
from ferganaug.utils.seeding import make_generator, seed_everything

log = logging.getLogger(__name__)

GAN_STATE_KIND = "ferganaug.gan-train-state"
CLASSIFIER_VIEWS = AugmentConfig(flip=True, translate=0.06, rotation_deg=5.0)
def ema_decay_at(step: int, decay: float) -> float:
    """EMA decay with a warm-up, a pure function of the step: early on the average follows
    the generator closely, so a short run's EMA is not dominated by its random start."""
    return min(decay, (1 + step) / (10 + step))


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model; buffers are copied."""
    for ema_p, p in zip(ema.parameters(), model.parameters()):
        ema_p.lerp_(p, 1 - decay)
    for ema_b, b in zip(ema.buffers(), model.buffers()):
        ema_b.copy_(b)


def rejected_share(scores: torch.Tensor) -> float:
    """The share of faces whose mean patch score the discriminator puts on the fake side."""
    return float((scores.float().mean(dim=(1, 2)) < 0.5).float().mean())


class GANTrainer:
    """One GAN training run: its step, its state and its hooks; the run engine
    (ferganaug.engine) owns the folder, the checkpoints and the loop."""

    state_kind = GAN_STATE_KIND
    position_key = "step"

    def __init__(
        self,
        config: GANConfig,
        train: FaceDataset,
        classifier: FrozenExpressionClassifier,
        run_dir: Path | RunFolder,
        progress: bool = True,
        held_out: FaceDataset | None = None,
    ) -> None:
        """``held_out``: real faces the loss classifier was not trained on (the validation split),
        for ``expr_confidence=REAL_CONFIDENCE``; its training faces stand in when there are none."""
        self.config = config
        self.device = resolve_device(config.device)
        # torchrun's environment makes this one rank of a data-parallel job; alone, world size 1
        self.group = join_from_environment(self.device)
        self.rank_batch = per_rank_batch(config.batch_size, self.group)  # batch_size is the global batch
        self.folder = run_dir if isinstance(run_dir, RunFolder) else RunFolder(run_dir)
        self.run_dir = self.folder.path
        if self.group.is_main:  # rank 0 alone writes the run folder
            self.folder.samples_dir.mkdir(parents=True, exist_ok=True)
            self.folder.checkpoints_dir.mkdir(exist_ok=True)
        self.progress = progress and self.group.is_main
        check_gan_data(train, config)
        self.target_ids = torch.tensor([EMOTION_INDEX[e] for e in config.target_emotions])

        seed_everything(config.seed)
        self.generator = Generator(len(EMOTIONS), config.g_width, config.g_res_blocks, condition=config.condition,
                                   colour=config.colour, decoder=config.g_decoder)
        self.discriminator = PatchDiscriminator(len(EMOTIONS), config.d_width)
        self.ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        self.classifier = classifier
        self.pools = FacePools(train, config.source_emotions, self.device)
        self.sample_rng = make_generator(config.seed)
        # every rank measures (as it will train: all at once), every rank takes rank 0's choice
        self.path, self.probe = broadcast_object(pick_fastest(config.precision, self.device, self._probe_step),
                                                 self.group)
        for module in (self.generator, self.discriminator, self.ema, self.classifier):
            self.path.prepare_model(module.to(self.device))
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr_g, betas=config.betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr_d, betas=config.betas)
        self.step = 0
        self.fixed_sources = self.pools.first_sources(8)
        self.expr_confidence = self._expression_confidence(held_out)

    def _expression_confidence(self, held_out: FaceDataset | None) -> float | torch.Tensor:
        """The expression loss's stopping point: the configured probability, or per emotion
        (REAL_CONFIDENCE) the classifier's median confidence in real faces of it, held-out ones
        when every target emotion has some (it is surer of the faces it was trained on)."""
        if self.config.expr_confidence != REAL_CONFIDENCE:
            return float(self.config.expr_confidence)
        faces, labels = self.pools.images, self.pools.labels
        if held_out is not None and all((held_out.labels == t).any() for t in self.target_ids):
            faces, labels = held_out.images.to(self.device), held_out.labels.to(self.device)

        def view(faces: torch.Tensor) -> torch.Tensor:
            faces = to_model_input(faces)
            if self.config.expr_blur > 0:
                faces = gaussian_blur(faces, self.config.expr_blur)
            return self.path.prepare_input(faces)

        with self.path.autocast(self.device):
            return typical_real_confidence(self.classifier, faces, labels, len(EMOTIONS), view).to(self.device)

    def expression_confidence_by_emotion(self) -> dict[str, float]:
        if isinstance(self.expr_confidence, float):
            return dict.fromkeys(self.config.target_emotions, self.expr_confidence)
        return {e: float(self.expr_confidence[EMOTION_INDEX[e]]) for e in self.config.target_emotions}

    # -- one step --------------------------------------------------------------------------------
    def _batch(self) -> dict[str, torch.Tensor]:
        """This rank's shard of the step's global batch, which every rank draws alike."""
        n, g = self.config.batch_size, self.sample_rng
        source_index = self.pools.sample_sources(n, g)
        target = self.target_ids[torch.randint(len(self.target_ids), (n,), generator=g)]
        real_index = self.pools.sample_reals(target, g)
        drawn = {"source": source_index, "target": target, "real": real_index}
        if self.config.w_mismatch > 0:  # drawn only when used: runs without it keep their random stream
            drawn["mismatch"] = self.pools.sample_mismatched(target, g)
        drawn = {k: shard_batch(t, self.group) for k, t in drawn.items()}
        dev = self.device
        batch = {
            "source": self.path.prepare_input(self.pools.faces(drawn["source"])),
            "source_emotion": self.pools.labels[drawn["source"].to(dev)],
            "target": drawn["target"].to(dev),
            "real": self.path.prepare_input(self.pools.faces(drawn["real"])),
        }
        if "mismatch" in drawn:
            batch["mismatch"] = self.path.prepare_input(self.pools.faces(drawn["mismatch"]))
        return batch

    def _condition(self, batch: dict, which: str) -> torch.Tensor:
        """Label mode: emotion indices. Reference mode: faces showing that expression
        (targets: real faces of other people; back to the source: the source itself)."""
        if self.config.condition == "label":
            return batch["target"] if which == "target" else batch["source_emotion"]
        return batch["real"] if which == "target" else batch["source"]

    @cached_property
    def _parallel(self) -> tuple[nn.Module, nn.Module]:
        """G and D under DistributedDataParallel (themselves when alone), made at the first step,
        once a resume has settled their memory layout: DDP lays its gradient buckets out like the
        parameters it is given.

        forward_sync_buffers=False: G has no buffers, and D's only ones are spectral norm's
        power-iteration vectors, which each forward updates from the weights and the vectors
        alone (never from the input), so identical weights keep them identical on every rank
        without a broadcast per forward (tests/test_distributed_gan.py checks them bit for bit)."""
        return tuple(data_parallel(net, self.group, self.device, forward_sync_buffers=False)
                     for net in (self.generator, self.discriminator))

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        g_net, d_net = self._parallel
        # One generator pass serves both updates: the discriminator sees it detached.
        with self.path.autocast(self.device):
            fake, mask = g_net(batch["source"], self._condition(batch, "target"))
        loss_d, r1, real_scores, mismatch_scores = self._discriminator_step(d_net, batch, fake.detach())
        total_g, terms, fake_scores, logits = self._generator_step(g_net, batch, fake, mask)
        self._update_ema()
        self.step += 1
        stats = self._step_stats(loss_d, r1, total_g, terms, real_scores, fake_scores, logits, mask, batch["target"])
        if mismatch_scores is not None:
            stats["d_acc_mismatch"] = rejected_share(mismatch_scores)
        return stats

    def _discriminator_step(self, d_net: nn.Module, batch: dict[str, torch.Tensor],
                            fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """One discriminator update on real faces against ``fake`` (detached), with R1 and the
        mismatched-expression term when on; returns its loss, R1, the real and mismatch scores."""
        c = self.config
        real = batch["real"].requires_grad_(c.w_r1 > 0)
        with self.path.autocast(self.device):
            # R1's autograd.grad is by the input only, so no parameter hook of DDP's fires there;
            # the backward below averages D's whole gradient, R1's second-order part included.
            real_scores, _ = d_net(self._d_view(real), batch["target"])
            fake_scores, _ = d_net(self._d_view(fake), batch["target"])
        loss_d = lsgan_discriminator_loss(real_scores.float(), fake_scores.float())
        r1 = r1_penalty(real_scores, real) if c.w_r1 > 0 else torch.zeros((), device=self.device)
        total_d = loss_d + c.w_r1 * r1
        mismatch_scores = None
        if c.w_mismatch > 0:
            with self.path.autocast(self.device):
                mismatch_scores, _ = d_net(self._d_view(batch["mismatch"]), batch["target"])
            total_d = total_d + c.w_mismatch * lsgan_fake_loss(mismatch_scores.float())
        self._check_finite("discriminator", total_d)
        self.opt_d.zero_grad(set_to_none=True)
        total_d.backward()
        self.opt_d.step()
        return loss_d, r1, real_scores, mismatch_scores

    def _generator_step(self, g_net: nn.Module, batch: dict[str, torch.Tensor], fake: torch.Tensor,
                        mask: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """One generator update of the weighted loss terms; returns the total, the terms, the
        discriminator's scores of ``fake`` and the frozen classifier's logits."""
        c = self.config
        # Judged by the just-updated discriminator: the unwrapped one, since this step does not
        # update D and its gradients here are thrown away (no use averaging them).
        with self.path.autocast(self.device):
            fake_scores, fake_features = self.discriminator(self._d_view(fake), batch["target"])
            with torch.no_grad():
                _, real_features = self.discriminator(self._d_view(batch["real"].detach()), batch["target"])
            # The frozen classifier judges a randomly shifted/mirrored view of the fake, so the
            # generator cannot win with pixel-exact adversarial textures (DiffAugment-style).
            logits = self.classifier(self._classifier_view(fake))
            # the generator passes of the cycle and identity terms are most of a step: skipped when off
            zero = fake.new_zeros((), dtype=torch.float32)
            cycle = zero if c.w_cycle == 0 else (
                g_net(fake, self._condition(batch, "source"))[0].float() - batch["source"]).abs().mean()
            identity = zero if c.w_id == 0 else (
                g_net(batch["source"], self._condition(batch, "source"))[0].float() - batch["source"]).abs().mean()
        terms = {
            "adv": lsgan_generator_loss(fake_scores.float()),
            # batch means: with several ranks, of each rank's shard (the one term that is not a
            # mean over faces, so not exactly the single-process term)
            "fm": feature_matching_loss(fake_features, real_features, batch["target"], batch["target"], len(EMOTIONS)),
            "expr": confident_cross_entropy(logits, batch["target"], self._confidence_for(batch["target"])),
            "cycle": cycle,
            "id": identity,
            "mask": mask_regularisation(mask, c.mask_min_area, c.mask_max_area),
            "change": (fake.float() - batch["source"]).abs().mean(),
            "smooth": total_variation(fake.float() - batch["source"]),
        }
        weights = {"adv": c.w_adv, "fm": c.w_fm, "expr": c.w_expr, "cycle": c.w_cycle, "id": c.w_id, "mask": c.w_mask,
                   "change": c.w_change, "smooth": c.w_smooth}
        total_g = sum(weights[k] * v for k, v in terms.items())
        self._check_finite("generator", total_g)
        self.opt_g.zero_grad(set_to_none=True)
        total_g.backward()
        self.opt_g.step()
        return total_g, terms, fake_scores, logits

    def _confidence_for(self, targets: torch.Tensor) -> float | torch.Tensor:
        if isinstance(self.expr_confidence, float):
            return self.expr_confidence
        return self.expr_confidence[targets]

    @torch.no_grad()
    def _step_stats(self, loss_d, r1, total_g, terms, real_scores, fake_scores, logits, mask, target) -> dict[str, float]:
        return {
            "loss_d": loss_d.item(), "r1": r1.item(), "loss_g": total_g.item(),
            **{f"g_{k}": v.item() for k, v in terms.items()},
            "d_acc_real": float((real_scores.float().mean(dim=(1, 2)) > 0.5).float().mean()),
            "d_acc_fake": rejected_share(fake_scores),
            "expr_acc": float((logits.argmax(1) == target).float().mean()),
            "mask_area": float(mask.float().mean()),
        }

    def _jitter(self, faces: torch.Tensor) -> torch.Tensor:
        """Random views of this rank's faces, drawn for the global batch: each face gets the view
        one process would give it, and every rank's stream stays in step."""
        n = self.config.batch_size
        views = augment_batch(in_global_batch((faces.float() + 1) / 2, n, self.group), CLASSIFIER_VIEWS,
                              self.sample_rng)
        return self.path.prepare_input(shard_batch(views, self.group) * 2 - 1)

    def _classifier_view(self, faces: torch.Tensor) -> torch.Tensor:
        """A jittered and (with ``expr_blur``) low-passed view: an expression survives a blur of
        a pixel or so, pixel-periodic stripes do not, so only the expression earns the loss."""
        view = self._jitter(faces)
        if self.config.expr_blur > 0:
            view = self.path.prepare_input(gaussian_blur(view.float(), self.config.expr_blur))
        return view

    def _d_view(self, faces: torch.Tensor) -> torch.Tensor:
        """What the discriminator sees: with ``d_augment``, real and fake alike are randomly
        shifted and mirrored (differentiably), so 121 real disgust faces are not memorised."""
        return self._jitter(faces) if self.config.d_augment else faces

    def _check_finite(self, which: str, loss: torch.Tensor) -> None:
        check_finite(loss, which, f"step {self.step + 1}", self.folder.last_checkpoint,
                     "try lower learning rates (--set lr_g=..., lr_d=...) or --set w_r1=1")

    def _update_ema(self) -> None:
        # from the generator's weights, identical on every rank after the averaged step: the EMA
        # copies stay identical without communication
        update_ema(self.ema, self.generator, ema_decay_at(self.step, self.config.ema_decay))

    def _probe_step(self, path: NumericPath) -> float:
        """Faces per second of a generator + discriminator + classifier step on this path,
        with throw-away networks and random faces (the run's own state is not touched)."""
        dev, n = self.device, self.rank_batch
        g = path.prepare_model(Generator(**self.generator.config).to(dev))
        d = path.prepare_model(PatchDiscriminator(**self.discriminator.config).to(dev))
        classifier = path.prepare_model(self.classifier.to(dev))
        optimizer = torch.optim.Adam([*g.parameters(), *d.parameters()], lr=1e-5)
        faces = path.prepare_input(torch.rand(n, 1, 48, 48, device=dev) * 2 - 1)
        emotions = torch.randint(len(EMOTIONS), (n,), device=dev)
        cond = emotions if self.config.condition == "label" else faces

        def step() -> None:
            with path.autocast(dev):
                fake, _ = g(faces, cond)
                scores, _ = d(fake, emotions)
                loss = scores.float().mean() + classifier(fake).float().mean()
                if self.config.w_cycle > 0:  # the cycle's generator pass, as in the step itself
                    loss = loss + g(fake, cond)[0].float().mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        step()
        start, count = time.perf_counter(), 0
        while time.perf_counter() - start < 1.0 or count < 2:
            step()
            count += 1
        return count * n / (time.perf_counter() - start)

    # -- the run ---------------------------------------------------------------------------------
    @property
    def position(self) -> int:
        return self.step

    def fit(self, on_sample: Callable[["GANTrainer"], None] | None = None) -> None:
        c = self.config
        self._bar = progress_bar(total=c.steps, initial=self.step, enabled=self.progress, desc="fergan train", unit="step")
        self._window: list[dict] = []
        self._window_start = time.perf_counter()
        hooks = [Hook("log", c.log_every, self._log)]
        if on_sample is not None and self.group.is_main:
            hooks.append(Hook("sample", c.sample_every, lambda step: on_sample(self)))
        hooks.append(Hook("checkpoint", c.checkpoint_every, lambda step: self.save_state()))
        run_loop(self._advance, self.step, c.steps, hooks)
        self._bar.close()

    def _advance(self) -> int:
        self._window.append(self.train_step(self._batch()))
        self._bar.update(1)
        return self.step

    def _log(self, step: int) -> None:
        """stats.jsonl: the mean of each statistic over the steps since the last row (and over the
        ranks, so a row means the same at any world size)."""
        window = self._window
        means = mean_over_ranks({k: sum(w[k] for w in window) / len(window) for k in window[0]}, self.group)
        row = {"step": step, **means,
               "faces_per_s": len(window) * self.config.batch_size / (time.perf_counter() - self._window_start)}
        self._window, self._window_start = [], time.perf_counter()
        if self.group.is_main:
            self.folder.append_stats(row)
            self._bar.set_postfix(d=f"{row['loss_d']:.3f}", g=f"{row['loss_g']:.2f}", expr=f"{row['expr_acc']:.2f}")

    @torch.no_grad()
    def sample_grid(self, sources: torch.Tensor | None = None) -> torch.Tensor:
        """The fixed sources and their EMA edits to each target emotion: uint8 [S, 1 + T, 48, 48],
        column 0 the source face itself, then config.target_emotions in order."""
        index = self.fixed_sources if sources is None else sources
        faces = self.pools.faces(index)
        columns = [faces.float()]
        for e in self.config.target_emotions:
            target = torch.full((len(faces),), EMOTION_INDEX[e], device=self.device)
            cond = target if self.config.condition == "label" else self.pools.faces(
                self.pools.sample_reals(target.cpu(), make_generator(EMOTION_INDEX[e])))
            with self.path.autocast(self.device):
                out, _ = self.ema(self.path.prepare_input(faces), cond)
            columns.append(out.float())
        grid = torch.stack(columns, dim=1)[:, :, 0]
        return ((grid.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()

    def sample_grid_labels(self, sources: torch.Tensor | None = None) -> tuple[list[str], list[str]]:
        """Row labels (each source's number and emotion) and column labels of sample_grid."""
        index = self.fixed_sources if sources is None else sources
        emotions = [EMOTIONS[int(k)] for k in self.pools.labels[index.to(self.pools.labels.device)]]
        return [f"{i + 1}: {e}" for i, e in enumerate(emotions)], ["source", *self.config.target_emotions]

    # -- checkpoints -------------------------------------------------------------------------------
    def generator_artifact(self) -> dict:
        return generator_artifact(self.ema, self.step, self.config.source_emotions)

    def save_state(self) -> None:
        """checkpoints/last.pt (through the engine) and the inference artefact generator.pt, by
        rank 0 alone; they hold the unwrapped networks, so any world size can resume them."""
        if self.group.is_main:
            save_training_state(self.folder, self)
            atomic_torch_save(self.generator_artifact(), self.run_dir / "generator.pt")

    def state_dict(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "step": self.step,
            "generator": self.generator.state_dict(),
            "ema": self.ema.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng": {"sample": self.sample_rng.get_state()},
            "numeric_path": self.path.to_dict(),
            "expr_confidence": self.expr_confidence,
        }

    def load_state_dict(self, state: dict) -> None:
        self.generator.load_state_dict(state["generator"])
        self.ema.load_state_dict(state["ema"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.step = state["step"]
        self.sample_rng.set_state(state["rng"]["sample"])
        saved = state["numeric_path"]
        self.path = NumericPath(saved["precision"], saved["channels_last"])
        # Measured once at the start of the run; re-measuring on another numeric path could differ.
        confidence = state.get("expr_confidence", self.expr_confidence)
        self.expr_confidence = confidence.to(self.device) if isinstance(confidence, torch.Tensor) else float(confidence)
        for module in (self.generator, self.discriminator, self.ema, self.classifier):
            self.path.prepare_model(module)
