"""Several runs of one network trained as one model (the ``stacked:N`` engine, ``train_stacked``).

A batch of 8 images at 224 px leaves a large GPU mostly idle; N runs of the same network (the seeds of
one Table 1 row) can fill it together. Each run keeps everything that makes it *its* run -- its data
order and augmentation (its own generator), learning-rate schedule, SGD momentum, test evaluations,
checkpoint, run id and record: the bookkeeping of ``train.Run``, shared with a run trained alone.
What is shared is the arithmetic:

* the N networks' weights are stacked along a new first dimension, ``W = [w_1, ..., w_N]``, and one
  forward ``torch.func.vmap(functional_call)`` computes ``f(x_n; w_n)`` for every n at once: a
  convolution of N stacked weights over N stacked batches becomes one grouped convolution (one kernel
  launch instead of N);
* the loss is the sum of the runs' own losses, ``L = sum_n L_n(f(x_n; w_n))``; since ``L_n`` depends on
  ``w_n`` alone, ``dL/dw_n = dL_n/dw_n``: one backward gives every run its own gradient;
* SGD is ``torch.optim.SGD``'s update written out on the stacked tensors (``StackedSGD``), each run with
  its own learning rate.

Equal to the run trained alone (``tests/core/test_stacked.py``): the initial weights, every batch and
augmentation, the learning rates, the checkpoint format (a stacked run resumes alone and the other way
round) and so the run id. Not bitwise equal, and why: a grouped convolution and its gradient sum their
products in another order than N separate convolutions, and GroupNorm runs as its formula
(``StackableGroupNorm``: torch's kernel has no vmap rule on the CPU), so the weights differ at float
rounding after one step and drift apart slowly; the test states the tolerance. bf16 autocast applies as
alone; channels-last does not (the stacked input is 5-D) and ``compile`` is not used; the record's
``precision`` says so and how many runs were stacked.

Runs stack when their configs are equal except for ``PER_RUN`` (``stack_key``): the same method,
network, batch and data. Networks with buffers (running statistics) are refused.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import torch
from torch import nn
from torch.func import functional_call, vmap
from torch.utils._pytree import tree_map

from gazelib.core.device import autocast, deterministic
from gazelib.core.train import Run, finish_run, open_run, train_alone
from gazelib.runs.identity import resolve

#: Config fields that may differ between runs trained together: they choose data order, augmentation,
#: schedule, evaluations and bookkeeping, not the network, its batch or its arithmetic.
PER_RUN = ("seed", "lr", "min_lr", "schedule", "augment", "test_every", "checkpoint_every", "selection",
           "selection_every")


def stack_key(cfg) -> str:
    """Runs with equal keys can be trained together: the config without its ``PER_RUN`` fields."""
    return json.dumps({k: v for k, v in cfg.to_dict().items() if k not in PER_RUN}, sort_keys=True, default=str)


def stack_groups(cfgs: list, size: int) -> list[list]:
    """``cfgs`` in stacks of at most ``size`` runs with equal ``stack_key``, in the order first seen."""
    groups: dict[str, list] = {}
    for cfg in cfgs:
        groups.setdefault(stack_key(cfg), []).append(cfg)
    return [group[i:i + size] for group in groups.values() for i in range(0, len(group), size)]


class StackableGroupNorm(nn.GroupNorm):
    """``nn.GroupNorm`` computed by its formula, ``y = (x - mean_g) / sqrt(var_g + eps) * gamma + beta``
    (mean and biased variance over each group's channels and pixels, in float32), which vmap can batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        groups = x.float().reshape(x.shape[0], self.num_groups, -1)
        mean = groups.mean(-1, keepdim=True)
        var = groups.var(-1, unbiased=False, keepdim=True)
        y = ((groups - mean) * torch.rsqrt(var + self.eps)).reshape(x.shape)
        if self.affine:
            view = (1, -1) + (1,) * (x.dim() - 2)
            y = y * self.weight.float().reshape(view) + self.bias.float().reshape(view)
        return y.to(x.dtype)


def stackable(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in training mode whose forward vmap can batch over stacked weights
    (``StackableGroupNorm``), on the meta device: ``functional_call`` supplies the weights."""
    base = copy.deepcopy(model).to("meta").train()
    for module in base.modules():
        if type(module) is nn.GroupNorm:
            module.__class__ = StackableGroupNorm
    return base


class StackedSGD:
    """``torch.optim.SGD``'s update (weight decay, momentum without dampening, Nesterov) on stacked weights,
    with one learning rate per run::

        d = g + wd * w;  b = d (first step), else b = m * b + d;  d = d + m * b (Nesterov) or b;  w = w - lr_n * d

    ``momentum[name]`` is the stacked momentum buffer (None before the first step, as in torch)."""

    def __init__(self, params: dict[str, torch.Tensor], group: dict, momentum: dict[str, torch.Tensor | None]):
        if group.get("dampening", 0) or group.get("maximize", False):
            raise ValueError("stacked SGD implements dampening 0 and maximize False (the trainer's SGD)")
        self.params, self.momentum = params, momentum
        self.weight_decay, self.beta, self.nesterov = group["weight_decay"], group["momentum"], group["nesterov"]

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor], lrs: list[float]) -> None:
        same = all(lr == lrs[0] for lr in lrs)   # then torch's own scalar update, for identical rounding
        rates = None if same else -torch.tensor(lrs, device=grads[0].device)
        for (name, weight), d in zip(self.params.items(), grads):
            if self.weight_decay:
                d = d.add(weight, alpha=self.weight_decay)
            if self.beta:
                buf = self.momentum[name]
                if buf is None:
                    buf = self.momentum[name] = d.clone()
                else:
                    buf.mul_(self.beta).add_(d)
                d = d.add(buf, alpha=self.beta) if self.nesterov else buf
            if same:
                weight.add_(d, alpha=-lrs[0])
            else:
                weight.addcmul_(d, rates.reshape(-1, *[1] * (d.dim() - 1)).to(d.dtype))


class Stack:
    """The stacked weights and momentum of ``runs`` (fresh or resumed at the same iteration), the
    vmapped forward and the step; ``sync(n)`` copies run n's weights and momentum back into its own
    model and optimiser (before its checkpoints and test evaluations)."""

    def __init__(self, runs: list[Run]):
        first = runs[0]
        if any(True for _ in first.model.buffers()):
            raise ValueError(f"{first.cfg.method}: the network has buffers (e.g. running statistics); "
                             f"stacked training supports networks without them -- train these runs alone")
        self.runs, self.names = runs, [name for name, _ in first.model.named_parameters()]
        models = [dict(run.model.named_parameters()) for run in runs]
        self.params = {name: torch.stack([m[name].detach() for m in models]).contiguous().requires_grad_()
                       for name in self.names}
        buffers = [[run.optimiser.state.get(m[name], {}).get("momentum_buffer") for run, m in zip(runs, models)]
                   for name in self.names]
        momentum = {name: None if any(b is None for b in bufs) else torch.stack(bufs).contiguous()
                    for name, bufs in zip(self.names, buffers)}
        self.sgd = StackedSGD(self.params, first.optimiser.param_groups[0], momentum)
        base = stackable(first.model)
        self.forward = vmap(lambda weights, x: functional_call(base, weights, (x,)), randomness="error")

    def step(self, batches: list[dict[str, torch.Tensor]], lrs: list[float]):
        """One SGD step of every run: ``([loss_n], [logs_n])``, detached, no host sync."""
        first = self.runs[0]
        with autocast(first.cfg, first.device):
            out = self.forward(self.params, torch.stack([batch["image"] for batch in batches]))
            terms = [run.method.loss(tree_map(lambda t, n=n: t[n], out), batch, run.cfg)
                     for n, (run, batch) in enumerate(zip(self.runs, batches))]
        grads = torch.autograd.grad(sum(loss for loss, _ in terms), list(self.params.values()))
        self.sgd.step(list(grads), lrs)
        return [loss.detach() for loss, _ in terms], [logs for _, logs in terms]

    @torch.no_grad()
    def sync(self, n: int) -> None:
        run = self.runs[n]
        for name, param in run.model.named_parameters():
            param.copy_(self.params[name][n])
            buf = self.sgd.momentum[name]
            if buf is not None:
                run.optimiser.state[param]["momentum_buffer"] = buf[n].clone()


def train_stacked(cfgs: list, progress: bool = True, stop_after: int | None = None, retrain: bool | None = None,
                  *, method=None, dataset=None) -> list[Path]:
    """Train the runs of ``cfgs`` (equal ``stack_key``) together; their record paths (or, after
    ``stop_after``, checkpoint paths) in order. Finished runs return their records untrained; runs
    resumed at different iterations are stacked by iteration; a run left alone trains as ``train.train``
    does (a stack of one would only add the vmap). ``method`` / ``dataset`` as ``train.train``'s,
    loaded once for the stack when not given."""
    if len({stack_key(cfg) for cfg in cfgs}) > 1:
        raise ValueError("stacked runs must have equal configs except for "
                         f"{', '.join(PER_RUN)}; group them with stack_groups")
    method, dataset = resolve(cfgs[0], method, dataset)   # one method and data set: equal stack keys
    opened = [open_run(cfg, method, dataset, retrain) for cfg in cfgs]
    pending = [run for run in opened if isinstance(run, Run)]
    for iteration in sorted({run.state["iteration"] for run in pending}):
        runs = [run for run in pending if run.state["iteration"] == iteration]
        if len(runs) == 1:
            train_alone(runs[0], progress, stop_after)
            continue
        for run in runs:
            run.stacked = len(runs)
        with deterministic(runs[0].device):
            _stacked_loop(runs, progress, stop_after)
    return [run if isinstance(run, Path) else finish_run(run) for run in opened]


def _stacked_loop(runs: list[Run], progress: bool, stop_after: int | None) -> None:
    """The iterations of ``runs`` (all at the same iteration): every run's ``next_batch``, one
    ``Stack.step``, every run's ``end_iteration``."""
    from tqdm.auto import tqdm

    stack, cfg, start = Stack(runs), runs[0].cfg, runs[0].state["iteration"]
    bar = tqdm(total=cfg.iterations, initial=start, disable=not progress, desc=f"{len(runs)} runs stacked",
               leave=False)
    for run in runs:
        run.model.train()
        run.start_segment()
    for it in range(start, cfg.iterations):
        batches, lrs = zip(*(run.next_batch(it) for run in runs))
        losses, logs = stack.step(list(batches), list(lrs))
        stopping = [run.end_iteration(losses[n], logs[n], stop_after, sync=lambda n=n: stack.sync(n))
                    for n, run in enumerate(runs)]
        bar.update(1)
        if all(stopping):
            break
    bar.close()
