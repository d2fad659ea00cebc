"""The `triton_mlp` backend: a lesson MLP's whole SGD training step as kernels/triton_mlp.TritonMLPStep (two Triton
launches), read from the lab's own model, loss and optimizer.

The labs write their MLPs as modules with their own forward (week 4's Net calls torch.sigmoid between its layers,
week 5's MLP loops over an nn.ModuleList, week 2's Line is yhat = w * x + b on scalar parameters), so the model is
traced with torch.fx and its graph read as a chain: Linear layers (or a scalar w * x + b), one kind of activation
between each two (sigmoid, tanh or relu, as a module, a torch function or a tensor method), nothing after the last.
The loss must be nn.CrossEntropyLoss or nn.MSELoss (mean, no weights or smoothing), the optimizer plain
torch.optim.SGD (with or without momentum). Anything else is a ValueError naming it: the backend never trains
something other than what the lab asked for.
"""

from __future__ import annotations

import operator
from types import SimpleNamespace

import torch
import torch.fx
from torch import nn
from torch.nn import functional as F

from kernels.triton_mlp import TritonMLPStep, check_mlp

ACTIVATION_MODULES = {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.ReLU: "relu"}
ACTIVATION_FUNCTIONS = {
    torch.sigmoid: "sigmoid",
    torch.tanh: "tanh",
    torch.relu: "relu",
    F.sigmoid: "sigmoid",
    F.tanh: "tanh",
    F.relu: "relu",
}
ACTIVATION_METHODS = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu"}


def _fail(model: nn.Module, what: str) -> ValueError:
    return ValueError(f"triton_mlp: {type(model).__name__} {what}")


def _activation(node: torch.fx.Node, modules: dict) -> str | None:
    """The activation this node applies to its first argument, or None."""
    if node.op == "call_module":
        return ACTIVATION_MODULES.get(type(modules[node.target]))
    if node.op == "call_function":
        return ACTIVATION_FUNCTIONS.get(node.target)
    if node.op == "call_method":
        return ACTIVATION_METHODS.get(node.target)
    return None


def _scalar(node, model: nn.Module) -> nn.Parameter | None:
    """The 0-d or one-element parameter a get_attr node reads, or None."""
    if not isinstance(node, torch.fx.Node) or node.op != "get_attr":
        return None
    try:
        p = model.get_parameter(node.target)
    except AttributeError:  # a buffer or a plain attribute, not a parameter
        return None
    return p if p.numel() == 1 else None


def mlp_layers(model: nn.Module) -> tuple[list, str]:
    """(the layers, the activation between them) of an MLP the step supports, read from its traced forward. A layer
    is an nn.Linear, or for a scalar yhat = w * x + b a stand-in with the same attributes (weight, bias,
    in_features, out_features) holding the model's own parameters. Raises ValueError naming what is not supported."""
    if isinstance(model, nn.Linear):  # traced as the root, its call is F.linear, not the module: it is one layer
        return [model], "none"
    try:
        graph = torch.fx.symbolic_trace(model).graph
    except Exception as e:  # noqa: BLE001 - any tracing failure is the same answer: a forward fx cannot read
        raise _fail(model, f"cannot be traced by torch.fx ({type(e).__name__}: {e})") from e
    modules = dict(model.named_modules())
    chain: list = []  # layers and activation names, in order
    current = None  # the node carrying the activations along the chain
    pending = None  # a scalar w * x waiting for its + b
    for node in graph.nodes:
        if node.op == "placeholder":
            if current is not None:
                raise _fail(model, "takes more than one input")
            current = node
            continue
        if node.op == "get_attr":
            continue  # a scalar parameter: read where it is used
        if node.op == "output":
            if node.args[0] is not current:
                raise _fail(model, "returns something other than its last layer's output")
            break
        args = [a for a in node.args if isinstance(a, torch.fx.Node)]
        if current not in args:
            raise _fail(model, f"computes {node.target} beside its chain of layers, which the step does not")
        act = _activation(node, modules)
        if node.op == "call_module" and isinstance(modules[node.target], nn.Linear):
            chain.append(modules[node.target])
        elif act is not None and len(node.args) == 1:
            chain.append(act)
        elif node.op == "call_function" and node.target is operator.mul:
            w = _scalar(node.args[0] if node.args[1] is current else node.args[1], model)
            if w is None:
                raise _fail(model, "multiplies by something other than a scalar parameter")
            pending = SimpleNamespace(weight=w, bias=None, in_features=1, out_features=1)
            chain.append(pending)
        elif (
            node.op == "call_function" and node.target is operator.add and pending is not None and chain[-1] is pending
        ):
            b = _scalar(node.args[0] if node.args[1] is current else node.args[1], model)
            if b is None or pending.bias is not None:
                raise _fail(model, "adds something other than a scalar bias")
            pending.bias = b
        else:
            name = (
                type(modules[node.target]).__name__
                if node.op == "call_module"
                else getattr(node.target, "__name__", str(node.target))
            )
            raise _fail(model, f"computes {name}, which the one-launch step does not (Linear, sigmoid, tanh, relu)")
        current = node
    layers = [c for c in chain if not isinstance(c, str)]
    acts = [c for c in chain if isinstance(c, str)]
    if not layers:
        raise _fail(model, "has no Linear layer")
    if len(set(acts)) > 1:
        raise _fail(model, f"mixes activations {sorted(set(acts))}: the step takes one between all layers")
    alternating = all(isinstance(c, str) == (k % 2 == 1) for k, c in enumerate(chain))
    if isinstance(chain[-1], str):
        raise _fail(model, f"ends in an activation ({chain[-1]}): the step's losses take the last layer's output")
    if not alternating:
        raise _fail(model, "must alternate Linear, activation, ..., Linear")
    return layers, acts[0] if acts else "none"


def loss_kind(loss: nn.Module) -> str:
    """The step's loss for a lab's loss module: 'cross_entropy' or 'mse' (mean, unweighted); else a ValueError."""
    if type(loss) is nn.CrossEntropyLoss:
        if loss.weight is not None or loss.label_smoothing or loss.reduction != "mean":
            raise ValueError("triton_mlp: CrossEntropyLoss with class weights, smoothing or a non-mean reduction")
        return "cross_entropy"
    if type(loss) is nn.MSELoss:
        if loss.reduction != "mean":
            raise ValueError("triton_mlp: MSELoss with a non-mean reduction")
        return "mse"
    raise ValueError(f"triton_mlp: loss {type(loss).__name__} is not supported (CrossEntropyLoss or MSELoss)")


def sgd_options(optimizer: torch.optim.Optimizer, params: list[torch.Tensor]) -> tuple[float, float]:
    """(lr, momentum) of a plain torch.optim.SGD over exactly `params`, not yet stepped; else a ValueError."""
    if type(optimizer) is not torch.optim.SGD:
        raise ValueError(f"triton_mlp: optimizer {type(optimizer).__name__} is not supported (SGD only)")
    options = {(g["lr"], g["momentum"]) for g in optimizer.param_groups}
    if len(options) != 1:
        raise ValueError("triton_mlp: SGD parameter groups with different lr or momentum")
    for g in optimizer.param_groups:
        other = [k for k in ("dampening", "nesterov", "weight_decay", "maximize") if g.get(k)]
        if other:
            raise ValueError(f"triton_mlp: SGD with {other} is not supported (lr and momentum only)")
    trained = {id(p) for g in optimizer.param_groups for p in g["params"]}
    if trained != {id(p) for p in params}:
        raise ValueError("triton_mlp: the optimizer must train exactly the MLP's layers' weights and biases")
    if any(optimizer.state[p] for g in optimizer.param_groups for p in g["params"]):
        raise ValueError("triton_mlp: the optimizer has stepped already (its momentum buffers would be lost)")
    ((lr, momentum),) = options
    return float(lr), float(momentum)


def _read(model: nn.Module, loss: nn.Module, optimizer: torch.optim.Optimizer) -> tuple:
    """TritonMLPStep's arguments for the lab's model, loss and optimizer (the step checks its shape and options)."""
    layers, activation = mlp_layers(model)
    kind = loss_kind(loss)
    lr, momentum = sgd_options(optimizer, [p for m in layers for p in (m.weight, m.bias) if p is not None])
    return layers, activation, kind, lr, momentum


def triton_mlp_step(model: nn.Module, loss: nn.Module, optimizer: torch.optim.Optimizer) -> TritonMLPStep:
    """The lab's training step (model, loss, SGD) as one TritonMLPStep: step(x, y) -> the loss. The model's
    parameters become views of the step's flat buffer, so the model (its forward, its evaluation) sees every
    update."""
    return TritonMLPStep(*_read(model, loss, optimizer))


def unfit_reason(model: nn.Module, loss: nn.Module, optimizer: torch.optim.Optimizer) -> str | None:
    """Why triton_mlp cannot train this lab's model with its loss and optimizer (before anything runs), or None."""
    try:
        check_mlp(*_read(model, loss, optimizer))  # what TritonMLPStep checks first, without making the step
    except ValueError as e:
        return str(e)
    return None
