"""The one training loop every method shares, and the EMA."""

import copy
import time
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from .schedules import ema_decay_at

__all__ = ["train", "ema_update", "TrainResult"]


@torch.no_grad()
def ema_update(ema, model, decay):
    """ema <- decay * ema + (1 - decay) * model, in place; decay closer to 1 is slower."""
    for p_ema, p in zip(ema.parameters(), model.parameters()):
        p_ema.lerp_(p, 1 - decay)


@dataclass
class TrainResult:
    model: torch.nn.Module  # the trained weights
    ema: torch.nn.Module  # their exponential moving average, the weights to sample with
    losses: list = field(default_factory=list)  # mean loss at every step
    seconds: float = 0.0  # wall-clock training time
    pretrain_seconds: float = 0.0  # time spent first training the EDM model a recipe starts from, if it did


def train(
    model,
    loss_fn,
    task,
    *,
    steps,
    batch_size=1024,
    lr=1e-3,
    ema_decay=0.999,
    target_decay=None,
    lr_schedule=None,
    conditional=False,
    label_dropout=0.1,
    seed=0,
    progress=True,
    desc="training",
):
    """Minimise loss_fn over fresh batches of the task with Adam; returns a TrainResult.

    target_decay: a number or a function of the step; given, the loop keeps a target network, a copy of the model
    updated as its EMA with that decay after every optimiser step, and passes it to the loss as target=.
    lr_schedule(step) multiplies lr.
    conditional: pass component labels to the loss, replaced by the "no label" class with probability label_dropout.
    """
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be >= 1, got steps={steps}, batch_size={batch_size}")
    device = next(model.parameters()).device
    generator = torch.Generator(device).manual_seed(seed)
    ema = copy.deepcopy(model).requires_grad_(False)
    target = None if target_decay is None else copy.deepcopy(model).requires_grad_(False)
    extra = {} if target is None else dict(target=target)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses, start = [], time.perf_counter()
    bar = tqdm(range(steps), desc=desc, disable=not progress, mininterval=0.5)
    for step in bar:
        labels = None
        if conditional:
            x0, labels = task.sample(batch_size, generator, return_labels=True)
            drop = torch.rand(batch_size, generator=generator, device=device) < label_dropout
            labels = torch.where(drop, task.num_components, labels)
        else:
            x0 = task.sample(batch_size, generator)
        loss = loss_fn(model, x0, step=step, generator=generator, labels=labels, **extra).mean()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training diverged: loss is {loss.item()} at step {step}")
        for group in optimizer.param_groups:
            group["lr"] = lr * (lr_schedule(step) if lr_schedule else 1.0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        ema_update(ema, model, ema_decay_at(step, ema_decay))
        if target is not None:
            ema_update(target, model, target_decay(step) if callable(target_decay) else target_decay)
        losses.append(loss.item())
        if step % 100 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}")
    return TrainResult(model, ema, losses, time.perf_counter() - start)
