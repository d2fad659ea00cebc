"""The `triton_fused` backend: the `triton` backend with the lessons' fusions applied to the model's graph.

The model is traced with torch.fx (the lesson models are plain feed-forward code), and two rewrites run on its graph:

- `epilogue`: a layer followed by an activation becomes one registry layer whose kernel applies the activation
  before its single store: Linear + relu/sigmoid/tanh (matmul 'triton_fused'), Conv2d + relu (conv2d
  'triton_fused'), BatchNorm + relu (batchnorm 'triton_fused'), Dropout + relu (dropout 'triton_fused'), and
  Conv2d + BatchNorm2d (+ relu) as one block (models/layers.RegistryConvBlock). A layer is fused only with its
  output's one user: an output that something else also reads must be written anyway.
- `head`: a final Linear (the model's output) is split off, so that the training step's cross-entropy can be
  computed from the head's input by linear_cross_entropy 'triton_fused', the logits never written
  (`LinearCrossEntropyLoss`, chosen by models/backends.step_parts when the loss is a plain nn.CrossEntropyLoss).
  The model's forward still returns the logits (evaluation, accuracy).

Every other layer is swapped as on `triton`; the optimizer step is the same one-launch Triton step on both.
`fused_layers(model)` names what was fused, for the fusion study and the tests.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import fx, nn

from kernels import registry
from models.layers import (
    FUSED_VARIANTS,
    TRITON_VARIANTS,
    RegistryConv2d,
    RegistryConvBlock,
    RegistryDropout,
    RegistryLinear,
    registry_batchnorm,
    swap,
)

FUSIONS = ("epilogue", "head")
# activation calls as torch.fx records them: functions, methods (x.relu()) and modules (nn.ReLU)
_FUNCTIONS = {torch.relu: "relu", F.relu: "relu", torch.sigmoid: "sigmoid", torch.tanh: "tanh"}
_METHODS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}
_MODULES = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}
# the activations each layer's fused kernel applies in its epilogue
_EPILOGUES = {
    nn.Linear: ("relu", "sigmoid", "tanh"),
    nn.Conv2d: ("relu",),
    nn.BatchNorm1d: ("relu",),
    nn.BatchNorm2d: ("relu",),
    nn.Dropout: ("relu",),
}


def _module(gm: fx.GraphModule, node: fx.Node) -> nn.Module | None:
    return gm.get_submodule(node.target) if node.op == "call_module" else None


def _activation(gm: fx.GraphModule, node: fx.Node) -> str | None:
    """The activation `node` applies to its first argument, or None."""
    if node.op == "call_function":
        return _FUNCTIONS.get(node.target)
    if node.op == "call_method" and len(node.args) == 1:
        return _METHODS.get(node.target)
    return _MODULES.get(type(_module(gm, node)))


def _only_user(node: fx.Node) -> fx.Node | None:
    return next(iter(node.users)) if len(node.users) == 1 else None


def _drop_identities(gm: fx.GraphModule) -> None:
    for node in list(gm.graph.nodes):
        if isinstance(_module(gm, node), nn.Identity):
            node.replace_all_uses_with(node.args[0])
            gm.graph.erase_node(node)


def _fused_layer(layers: list[nn.Module], activation: str | None) -> nn.Module:
    first = layers[0]
    if isinstance(first, nn.Conv2d) and len(layers) == 2:
        return RegistryConvBlock(first, layers[1], activation)
    if isinstance(first, nn.Linear):
        return RegistryLinear(first, TRITON_VARIANTS["matmul"], activation)
    if isinstance(first, nn.Conv2d):
        return RegistryConv2d(first, TRITON_VARIANTS["conv2d"], activation)
    if isinstance(first, nn.Dropout):
        return RegistryDropout(first, FUSED_VARIANTS["dropout"], activation)
    return registry_batchnorm(first, FUSED_VARIANTS["batchnorm"], activation)


def _fuse_epilogues(gm: fx.GraphModule) -> list[str]:
    """Each layer -> (batch norm) -> activation chain of the graph as one registry layer; the chains' names."""
    fused = []
    for node in list(gm.graph.nodes):
        layer = _module(gm, node)
        if type(layer) not in _EPILOGUES:
            continue
        chain, layers = [node], [layer]
        nxt = _only_user(node)
        if isinstance(layer, nn.Conv2d) and nxt is not None and type(_module(gm, nxt)) is nn.BatchNorm2d:
            chain.append(nxt)
            layers.append(_module(gm, nxt))
            nxt = _only_user(nxt)
        activation = _activation(gm, nxt) if nxt is not None else None
        if activation not in _EPILOGUES[type(layers[-1])]:
            activation = None
        if activation is not None:
            chain.append(nxt)
        if len(chain) == 1:
            continue
        label = "+".join([*(str(n.target) for n in chain[: len(layers)]), *([activation] if activation else [])])
        name = "fused_" + label.replace(".", "_").replace("+", "_")
        gm.add_submodule(name, _fused_layer(layers, activation))
        for later in reversed(chain[1:]):  # the chain's last node's users read the fused layer's output instead
            later.replace_all_uses_with(node)
            gm.graph.erase_node(later)
        node.target = name
        fused.append(label)
    return fused


def _split_head(gm: fx.GraphModule) -> tuple[nn.Linear | None, str | None]:
    """The model's final Linear taken out of the graph (the graph then returns its input), or (None, None)."""
    out = next(n for n in gm.graph.nodes if n.op == "output")
    last = out.args[0]
    if not isinstance(last, fx.Node) or type(_module(gm, last)) is not nn.Linear or len(last.users) != 1:
        return None, None
    head, name = _module(gm, last), str(last.target)
    out.args = (last.args[0],)
    gm.graph.erase_node(last)
    return head, name


class FusedModel(nn.Module):
    """A model on the triton_fused backend: `body` (the traced graph with its fused layers) and, where the head was
    split off, `head` (the final Linear on the Triton matmul). forward(x) = head(body(x)): the logits."""

    def __init__(self, body: nn.Module, head: nn.Linear | None, fused: list[str]):
        super().__init__()
        self.body = body
        self.head = None if head is None else RegistryLinear(head, TRITON_VARIANTS["matmul"])
        self.fused = fused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.body(x)
        return features if self.head is None else self.head(features)


def fuse(model: nn.Module, fusions: tuple[str, ...] = FUSIONS) -> FusedModel:
    """`model` on the triton_fused backend with the given fusions (FUSIONS: all of them); the same parameters."""
    unknown = [f for f in fusions if f not in FUSIONS]
    if unknown:
        raise ValueError(f"unknown fusions {unknown}; use some of {FUSIONS}")
    root = nn.Sequential(model) if type(model) in (*_EPILOGUES, nn.Identity) else model  # trace a bare layer too
    try:
        gm = fx.symbolic_trace(root)
    except Exception as e:  # data-dependent control flow: this backend needs a graph
        raise ValueError(f"backend 'triton_fused': {type(model).__name__} cannot be traced by torch.fx ({e})") from e
    _drop_identities(gm)
    fused = _fuse_epilogues(gm) if "epilogue" in fusions else []
    head, name = _split_head(gm) if "head" in fusions else (None, None)
    if head is not None:
        fused.append(f"{name}+cross_entropy")
    if not fused:  # nothing to fuse: the model as the triton backend runs it, its structure and parameter order kept
        return FusedModel(swap(model), None, [])
    gm.graph.lint()
    gm.recompile()
    gm.delete_all_unused_submodules()
    return FusedModel(swap(gm).train(model.training), head, fused)


class LinearCrossEntropyLoss(nn.Module):
    """nn.CrossEntropyLoss of a split-off head's logits, computed from the head's input by the registry's
    linear_cross_entropy: the N x C logits are never written, forward or backward."""

    def __init__(self, head: RegistryLinear, loss: nn.CrossEntropyLoss, logits_loss: nn.Module):
        super().__init__()
        self.weight, self.bias = head.weight, head.bias
        self.ignore_index, self.reduction = loss.ignore_index, loss.reduction
        self.logits_loss = logits_loss  # the same loss of the logits (evaluation)
        self.fn = registry.get("linear_cross_entropy", TRITON_VARIANTS["linear_cross_entropy"]).fn

    def forward(self, features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if features.dim() != 2:
            raise ValueError(f"backend 'triton_fused': the head's input must be [N, D], got {tuple(features.shape)}")
        return self.fn(features, self.weight, target, self.bias, self.ignore_index, self.reduction)


def fuses_head_loss(model: nn.Module, loss: nn.Module) -> bool:
    """Whether the training step computes `loss` with the head (a plain cross-entropy: no class weights, no label
    smoothing, which linear_cross_entropy does not take)."""
    return (
        isinstance(model, FusedModel)
        and model.head is not None
        and type(loss) is nn.CrossEntropyLoss
        and loss.weight is None
        and loss.label_smoothing == 0.0
    )


def fused_layers(model: nn.Module, loss: nn.Module | None = None) -> list[str]:
    """What the triton_fused backend fused in `model` (with `loss`: the head only where the loss takes it)."""
    if not isinstance(model, FusedModel):
        return []
    head = [f for f in model.fused if f.endswith("+cross_entropy")]
    fused = [f for f in model.fused if f not in head]
    return fused + (head if loss is None or isinstance(loss, LinearCrossEntropyLoss) else [])
