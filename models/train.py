"""The labs' training loop: mini-batches in order (the labs' DataLoaders do not shuffle), one optimizer step per
batch, and per-epoch figures: the mean training loss, and accuracy / validation loss / validation accuracy where the
lab measures them."""

from __future__ import annotations

import time

import torch
from torch import nn

from models.backends import backend_of, logits_loss, step_loss, step_parts
from models.data import Split
from models.graphs import GraphedCall, make_capturable
from models.mlp_step import triton_mlp_step
from models.precision import loss_scaler


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int):
    for i in range(0, len(x), batch_size):
        yield x[i : i + batch_size], y[i : i + batch_size]


def accuracy(output: torch.Tensor, y: torch.Tensor) -> float:
    """Multi-class: argmax of the logits; one output column: probability above 0.5 (the labs' sigmoid nets)."""
    predicted = (output > 0.5).to(y.dtype).view_as(y) if output.shape[-1] == 1 else output.argmax(-1)
    return (predicted == y).float().mean().item()


@torch.no_grad()
def evaluate(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, classify: bool) -> tuple[float, float]:
    was_training = model.training
    model.eval()
    out = model(x)
    model.train(was_training)
    return loss_fn(out, y).item(), accuracy(out, y) if classify else float("nan")


def train_step(
    model: nn.Module, loss_fn, optimizer, x: torch.Tensor, y: torch.Tensor, scaler: torch.amp.GradScaler | None = None
) -> torch.Tensor:
    """One optimizer step on (x, y); with a GradScaler (fp16 autocast) the loss is scaled for the backward pass and
    the step skipped where the gradients overflowed."""
    optimizer.zero_grad(set_to_none=True)
    loss = step_loss(model, loss_fn, x, y)
    if scaler is None:
        loss.backward()
        optimizer.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    return loss


def graphed(model: nn.Module, call, optimizer=None):
    """`call` (no arguments: a forward or a training step on fixed tensors) as the model's backend runs it: on
    `cudagraphs` a GraphedCall, captured on its first call and replayed after (with the optimizer it steps made
    capturable); otherwise `call` itself."""
    if backend_of(model) != "cudagraphs":
        return call
    if optimizer is not None:
        make_capturable(optimizer)
    return GraphedCall(call)


def step_fn(model: nn.Module, loss_fn, optimizer, scaler: torch.amp.GradScaler | None = None):
    """step(x, y) -> loss: one training step as the model's backend runs it, before any CUDA graph: on triton_mlp
    the lab's model, loss and SGD as one TritonMLPStep (two launches; models/mlp_step.py), otherwise `train_step`."""
    if backend_of(model) == "triton_mlp":
        if scaler is not None:
            raise ValueError("backend 'triton_mlp' trains in fp32: fp16 autocast's GradScaler has nothing to scale")
        return triton_mlp_step(model, loss_fn, optimizer)
    return lambda x, y: train_step(model, loss_fn, optimizer, x, y, scaler)


def step_call(model: nn.Module, loss_fn, optimizer, x: torch.Tensor, y: torch.Tensor, scaler=None):
    """The training step on the fixed batch (x, y) as a call without arguments, as the model's backend runs it (see
    `graphed`: on cudagraphs x and y are the graph's static inputs; write a new batch into them in place)."""
    if scaler is not None and backend_of(model) == "cudagraphs":
        raise ValueError(
            "backend 'cudagraphs': fp16 autocast's GradScaler decides on the host whether to step, which a CUDA "
            "graph cannot replay; use bf16 autocast or fp32"
        )
    step = step_fn(model, loss_fn, optimizer, scaler)
    return graphed(model, lambda: step(x, y), optimizer)


def stepper(model: nn.Module, loss_fn, optimizer, scaler: torch.amp.GradScaler | None = None):
    """step(x, y) -> loss: one training step on any batch as the model's backend runs it. On `cudagraphs` each batch
    shape gets its own captured step (step_call) over static buffers that every batch is copied into (the last,
    smaller batch of an epoch has its own graph); the loss returned is the graph's tensor, refreshed by the next
    step of that shape."""
    if backend_of(model) != "cudagraphs":
        return step_fn(model, loss_fn, optimizer, scaler)
    graphs: dict[tuple, tuple[torch.Tensor, torch.Tensor, GraphedCall]] = {}

    def step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        key = (x.shape, x.dtype, y.shape, y.dtype)
        if key not in graphs:
            sx, sy = x.clone(), y.clone()  # static buffers (a batch may be a view of the data set)
            graphs[key] = (sx, sy, step_call(model, loss_fn, optimizer, sx, sy, scaler))
        sx, sy, graphed = graphs[key]
        sx.copy_(x)
        sy.copy_(y)
        return graphed()

    return step


def fit(
    model: nn.Module, loss_fn, optimizer, data: Split, epochs: int, batch_size: int, classify: bool = False
) -> dict[str, list[float]]:
    """Train and return the per-epoch history: loss (mean over the epoch's samples, as the model trained), seconds
    (training wall time so far, evaluations excluded), and with `classify` accuracy (on the training set at the
    epoch's end); val_loss and val_accuracy when `data` has a validation set."""
    loss_fn, optimizer = step_parts(model, loss_fn, optimizer)  # the backend's loss and optimizer step
    history: dict[str, list[float]] = {"loss": [], "seconds": []}
    trained = 0.0
    scaler = loss_scaler(data.x.device.type)  # under fp16 autocast only (models/precision.py)
    step = stepper(model, loss_fn, optimizer, scaler)
    for _ in range(epochs):
        model.train()
        total, start = 0.0, time.perf_counter()
        for xb, yb in batches(data.x, data.y, batch_size):
            loss = step(xb, yb)
            total += loss.item() * len(xb)  # .item() waits for the step: the clock below sees finished work
        trained += time.perf_counter() - start
        history["loss"].append(total / len(data.x))
        history["seconds"].append(trained)
        if classify:
            history.setdefault("accuracy", []).append(evaluate(model, logits_loss(loss_fn), data.x, data.y, True)[1])
        if data.x_val is not None:
            val_loss, val_acc = evaluate(model, logits_loss(loss_fn), data.x_val, data.y_val, classify)
            history.setdefault("val_loss", []).append(val_loss)
            if classify:
                history.setdefault("val_accuracy", []).append(val_acc)
    return history
