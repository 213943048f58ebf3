"""``gazelib bench``: how fast the trainer trains and evaluates each method, measured, not claimed.

For each method at each profile (``paper`` = preset ``paper_kvasir``: 224 px, batch 8, the papers'
networks; ``quick``; ``smoke``) it times the trainer's own step (``train.make_train_step``, fed by
``train.sample_batch`` from device-resident tensors, exactly the ``train()`` loop) and reports

* training step time (median over ``steps`` timed steps after ``warmup`` untimed ones) and images/s
  (batch / median step time);
* peak memory: on CUDA ``torch.cuda.max_memory_allocated`` after a peak reset (tensors only); on the
  CPU the growth of the process's peak resident set (``resource.getrusage(...).ru_maxrss``) during
  the measurement. ru_maxrss is a high-water mark of the whole process: the growth is a lower bound
  (0 when an earlier, bigger measurement already set the peak), so we also record the absolute peak;
  no tracemalloc (it does not see torch's allocator);
* evaluation images/s: ``evaluate.predict_logits`` (the evaluation path: no grad, autocast, batches of
  ``evaluate.EVAL_BATCH``) on ``eval_images`` images, after one untimed call;
* FLOPs per step (counted on one more, untimed step), TFLOP/s and their share of the device's peak,
  and per profile the time Table 1 x 3 seeds would train at the measured step times (``mfu``).

``bench_lpp`` (``gazelib bench --lpp``) times GazeMedSeg's LPP alone, loop against fused.

Data: synthetic tensors of the shapes and dtypes ``targets.build_tensors`` gives (image float32,
binary targets uint8, soft targets float32), a pool of twice the batch size on the device -- the
benchmark measures compute, not data preparation (which ``train()`` does once and caches).

Reference path (``reference=True``): the GazeMedSeg 2-level model trained the way the GazeMedSeg
authors' code trains it -- a ``torch.utils.data.DataLoader`` with worker processes over a Dataset
doing per-sample CPU work (resize of an in-memory uint8 image of Kvasir-SEG's median size 530 x 621
with PIL, bilinear; its pseudo-masks nearest; normalise; random flips with numpy; to tensor), fp32,
no channels-last, no autocast, torch's default SGD, the loss read with ``float`` every iteration as
their training loop logs it. The step is the same ``make_train_step`` (same ``method.loss``) with
``amp=False, channels_last=False, compile=False``. The record has the ratio fast / reference.

Several runs at once (``concurrent=K``): K processes train the same method and profile on the same
device at the same time (as ``engines`` ``local:K`` runs a grid); after their warm-up they wait for
each other (a file barrier), then each times its steps. The table throughput is runs x iterations per
second (sum over the processes of 1 / step time) and images/s (sum of batch / step time), beside one
process alone.

One stacked model (``stacked=N``): N runs of the same entry trained as one (``core.stacked.Stack``, what
the ``stacked:N`` engine trains), each with its own batch; the table throughput is runs x iterations
per second (N / stacked step time) beside one run alone (1 / its step time), in the same process.

Timings synchronise CUDA (``torch.cuda.synchronize``) before reading the clock. The trainer runs
deterministic kernels (``device.deterministic``: cudnn.benchmark off), and so does the benchmark.

``gaze=True`` also times the full gaze preprocessing of Kvasir-SEG (``gaze.cache.ensure_maps`` for
vam, crf, track, all images) into a fresh temporary cache directory.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import gazelib.papers  # noqa: F401  (benchmarks every paper's method)
from gazelib.core import train
from gazelib.core import files
from gazelib.core.config import PROFILES, Config, make_config, preset_for
from gazelib.core.device import amp_enabled, channels_last_enabled, deterministic, device_name, resolve_device
from gazelib.core.evaluate import predict_logits
from gazelib.core.methods import get_method, in_channels
from gazelib.core.networks import build_model, resolved_features
from gazelib.core.paths import data_root, mirror_root, results_root
from gazelib.core.targets import IMAGENET_MEAN, IMAGENET_STD, TARGETS
from gazelib.data.datasets import load_dataset
from gazelib.experiments.grids import Experiment
from gazelib.gaze.cache import ensure_maps
from gazelib.ops.mfu import count_step_flops, device_peak, project_table1, row_entry, utilisation
from gazelib.papers.gazemedseg.lpp import IMPLS as LPP_IMPLS, local_pixel_propagation
from gazelib.papers.table1 import TABLE1
from gazelib.runs.provenance import git_state
from gazelib.runs.records import read_record


#: name -> (method, config overrides): every Table 1 row ("full" with each of its backbones) and the SAN.
ENTRIES = {row_entry(exp): (exp.method, dict(o.split("=", 1) for o in exp.overrides))
           for exp in [*TABLE1, Experiment("SAN", "san")]}
REFERENCE_ENTRY = "gazemedseg"
RAW_SIZE = (530, 621)        # Kvasir-SEG median image size (H, W), measured over its 1000 images
GAZE_KINDS = ("vam", "crf", "track")


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------

def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_rss_mb() -> float:
    scale = 1 if sys.platform == "darwin" else 1024     # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


class _Memory:
    """Peak memory of a block: CUDA allocator peak, or growth of the CPU process's peak RSS (module doc)."""
    def __init__(self, device):
        self.device = device

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self.start = _peak_rss_mb()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            self.result = {"peak_mem_mb": torch.cuda.max_memory_allocated(self.device) / 2**20,
                           "peak_mem_kind": "cuda_max_memory_allocated"}
        else:
            peak = _peak_rss_mb()
            self.result = {"peak_mem_mb": peak - self.start, "peak_rss_mb": peak,
                           "peak_mem_kind": "cpu_peak_rss_growth"}


def synthetic_data(names, cfg, count: int, device, seed: int = 0) -> dict:
    """``{name: (count, C, S, S)}`` random tensors on ``device`` with ``build_tensors``' dtypes."""
    g = torch.Generator().manual_seed(seed)
    size = cfg.image_size
    data = {"image": torch.randn(count, in_channels(cfg), size, size, generator=g)}
    for name in names:
        shape = (count, TARGETS[name].channels(cfg), size, size)
        data[name] = ((torch.rand(shape, generator=g) < 0.3).to(torch.uint8) if TARGETS[name].binary
                      else torch.rand(shape, generator=g))
    return {k: v.to(device) for k, v in data.items()}


def _timed(run_once, steps: int, warmup: int, device) -> list[float]:
    """Seconds of each of ``steps`` calls of ``run_once`` after ``warmup`` untimed ones (synchronised)."""
    times = []
    for i in range(warmup + steps):
        _sync(device)
        start = time.perf_counter()
        run_once()
        _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return times


def _setup(method, cfg, device, fast: bool = True):
    """Model, optimiser and the trainer's step for ``cfg`` (``fast=False``: torch's default SGD)."""
    model = build_model(method, cfg, device)
    # the reference path builds torch's SGD as the authors' script does, whatever the device
    optimiser = (train.make_optimiser(model, cfg, device) if fast else
                 torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                                 weight_decay=cfg.weight_decay))
    model.train()
    return model, train.make_train_step(model, method, optimiser, cfg, device)


# ------------------------------------------------------------------------------------------------
# Measurements
# ------------------------------------------------------------------------------------------------

def bench_method(entry: str, profile: str, device, steps: int, warmup: int, eval_images: int,
                 overrides: dict | None = None, peak: dict | None = None) -> dict:
    """Train-step time, images/s, peak memory, eval images/s, FLOPs per step and MFU against ``peak``
    (``mfu.device_peak``) of ``entry`` at ``profile``."""
    name, entry_overrides = ENTRIES[entry]
    cfg = make_config(name, "kvasir", preset_for(profile, "kvasir"),
                      {**entry_overrides, **(overrides or {}), "device": device.type})
    method = get_method(name)
    with deterministic(device), _Memory(device) as memory:
        model, step = _setup(method, cfg, device)
        data = synthetic_data(method.targets, cfg, 2 * cfg.batch_size, device)
        generator = torch.Generator(device=device).manual_seed(0)
        losses = []

        def train_once():
            index = torch.randperm(2 * cfg.batch_size, generator=generator, device=device)[:cfg.batch_size]
            losses.append(step(train.sample_batch(data, index, generator, cfg.augment), cfg.lr)[0])

        times = _timed(train_once, steps, warmup, device)
        index = torch.randperm(2 * cfg.batch_size, generator=generator, device=device)[:cfg.batch_size]
        flops = count_step_flops(step, train.sample_batch(data, index, generator), cfg.lr)   # one more, untimed
        images = data["image"][:1].expand(eval_images, -1, -1, -1).cpu()
        predict_logits(model, method, images[:cfg.batch_size], cfg, device)   # warm-up
        eval_time = _timed(lambda: predict_logits(model, method, images, cfg, device), 1, 0, device)[0]
    if not all(torch.isfinite(loss) for loss in losses):
        raise RuntimeError(f"bench {entry} at {profile}: non-finite training loss")
    step_s = statistics.median(times)
    amp = amp_enabled(cfg, device)
    return {"entry": entry, "method": name, "profile": profile, "path": "fast", "image_size": cfg.image_size,
            "batch_size": cfg.batch_size, "backbone": cfg.backbone, "features": list(resolved_features(cfg)),
            "amp": amp, "channels_last": channels_last_enabled(cfg, device), "compile": cfg.compile,
            "step_s": step_s, "step_times_s": times, "train_images_per_s": cfg.batch_size / step_s,
            "eval_images": eval_images, "eval_images_per_s": eval_images / eval_time, **memory.result,
            **utilisation(flops, step_s, amp, peak)}


class ReferenceDataset:
    """The GazeMedSeg authors' way of feeding a batch: per-sample CPU work in DataLoader workers.

    Holds uint8 images (H, W, 3) and uint8 pseudo-masks (H, W, L) in memory; ``__getitem__`` resizes
    them to ``size`` (PIL bilinear / nearest), normalises the image with ImageNet statistics, flips
    left-right and up-down with probability 1/2 each (numpy RNG), and returns tensors.
    """
    def __init__(self, images: list[np.ndarray], masks: list[np.ndarray], size: int):
        self.images, self.masks, self.size = images, masks, size

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:

        s = (self.size, self.size)
        image = np.asarray(Image.fromarray(self.images[i]).resize(s, Image.BILINEAR), dtype=np.float32) / 255.0
        image = (image - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
        masks = np.stack([np.asarray(Image.fromarray(self.masks[i][..., c]).resize(s, Image.NEAREST))
                          for c in range(self.masks[i].shape[-1])], axis=-1).astype(np.float32)
        if np.random.rand() < 0.5:
            image, masks = image[:, ::-1], masks[:, ::-1]
        if np.random.rand() < 0.5:
            image, masks = image[::-1], masks[::-1]
        return {"image": torch.from_numpy(image.transpose(2, 0, 1).copy()),
                "pseudo_masks": torch.from_numpy(masks.transpose(2, 0, 1).copy())}


def bench_reference(profile: str, device, steps: int, warmup: int, workers: int | None = None) -> dict:
    """Reference-path step time and images/s of GazeMedSeg (module doc), data loading included."""
    name, entry_overrides = ENTRIES[REFERENCE_ENTRY]
    cfg = make_config(name, "kvasir", preset_for(profile, "kvasir"),
                      {**entry_overrides, "amp": False, "channels_last": False, "compile": False, "device": device.type})
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    rng = np.random.default_rng(0)
    count = 4 * cfg.batch_size
    images = [rng.integers(0, 256, (*RAW_SIZE, 3), dtype=np.uint8) for _ in range(count)]
    masks = [(rng.random((*RAW_SIZE, len(cfg.levels))) < 0.3).astype(np.uint8) for _ in range(count)]
    loader = torch.utils.data.DataLoader(ReferenceDataset(images, masks, cfg.image_size), batch_size=cfg.batch_size,
                                         shuffle=True, drop_last=True, num_workers=workers,
                                         persistent_workers=workers > 0, pin_memory=device.type == "cuda")

    def batches():
        while True:
            yield from loader

    with deterministic(device), _Memory(device) as memory:
        model, step = _setup(get_method(name), cfg, device, fast=False)
        stream = batches()

        def train_once():
            batch = {k: v.to(device, non_blocking=True) for k, v in next(stream).items()}
            loss, _ = step(batch, cfg.lr)
            if not np.isfinite(float(loss)):     # the authors' loop logs loss.item() every iteration
                raise RuntimeError(f"reference path at {profile}: non-finite loss")

        times = _timed(train_once, steps, warmup, device)
    step_s = statistics.median(times)
    return {"entry": REFERENCE_ENTRY, "method": name, "profile": profile, "path": "reference",
            "image_size": cfg.image_size, "batch_size": cfg.batch_size, "backbone": cfg.backbone,
            "features": list(resolved_features(cfg)), "amp": False, "channels_last": False, "compile": False,
            "workers": workers, "raw_size": list(RAW_SIZE), "step_s": step_s, "step_times_s": times,
            "train_images_per_s": cfg.batch_size / step_s, **memory.result}


def bench_gaze(dataset_name: str = "kvasir", workers: int | None = None) -> dict:
    """Seconds to compute every vam, crf and track map of ``dataset_name`` into a fresh temporary cache."""
    root = data_root()
    if not (root / "kvasir-seg").is_dir() and mirror_root() is not None:
        root = mirror_root()
    dataset = load_dataset(dataset_name, root)
    out = {"dataset": dataset_name, "images": len(dataset.ids), "workers": workers or os.cpu_count()}
    previous = os.environ.get("GAZELIB_CACHE")
    with tempfile.TemporaryDirectory(prefix="gazelib-bench-") as cache:
        os.environ["GAZELIB_CACHE"] = cache
        try:
            for kind in GAZE_KINDS:
                start = time.perf_counter()
                ensure_maps(dataset, kind, list(dataset.ids), workers, False, 25)
                out[f"{kind}_s"] = time.perf_counter() - start
        finally:
            if previous is None:
                os.environ.pop("GAZELIB_CACHE", None)
            else:
                os.environ["GAZELIB_CACHE"] = previous
    out["total_s"] = sum(out[f"{k}_s"] for k in GAZE_KINDS)
    return out


PLAIN = {"amp": False, "channels_last": False, "compile": False}


def dice_fast_vs_plain(method: str = "full", preset: str = "smoke", seeds=(0, 1, 2),
                       overrides: dict | None = None, dataset=None) -> dict:
    """Train the same config with the fast settings (``cfg.amp``, ``cfg.channels_last`` where the device
    uses them: ``device.precision``)
    and plain fp32 (``PLAIN``) for each seed through ``train.train``; mean test Dice and training
    images/s of each run, and the mean and std over seeds. The two must agree within seed noise.
    ``dataset``: a data-set object instead of ``load_dataset("kvasir")`` (tests)."""
    out = {"method": method, "preset": preset, "overrides": overrides or {}, "runs": []}
    for path_name, extra in (("fast", {}), ("plain", PLAIN)):
        for seed in seeds:
            cfg = make_config(method, "kvasir", preset, {**(overrides or {}), **extra, "seed": seed})
            rec = read_record(train.train(cfg, progress=False, dataset=dataset))
            out["runs"].append({"path": path_name, "seed": seed, "run_id": rec.run_id,
                                "amp": rec.precision["autocast"] == "bf16",   # what ran, not what was asked
                                "channels_last": rec.precision["channels_last"], "dice_mean": rec.summary["dice_mean"],
                                "train_images_per_s": rec.train_images_per_s, "final_loss": rec.final_loss})
    for path_name in ("fast", "plain"):
        dice = [r["dice_mean"] for r in out["runs"] if r["path"] == path_name]
        out[path_name] = {"dice_mean": float(np.mean(dice)), "dice_std_over_seeds": float(np.std(dice, ddof=1))
                          if len(dice) > 1 else 0.0}
    return out


def bench_lpp(profiles=("quick", "paper"), device: str = "auto", steps: int = 3, warmup: int = 1,
              batch: int | None = None, overrides: dict | None = None, log=print) -> dict:
    """Forward + backward time of GazeMedSeg's LPP, each implementation (``lpp.IMPLS``), on the feature
    map the trainer gives it at each profile: GazeMedSeg's batch (or ``batch``: the CPU cannot hold
    the fused path's 25x copy at 224 px and batch 8), its feature conv's channels, the image size, and
    the step's dtype and layout (bf16 and channels-last where the trainer uses them; ``overrides``, e.g.
    ``amp=False``, change the config). Also the largest difference of the two outputs and whether they
    are bitwise equal."""

    dev = resolve_device(Config(device=device))
    record = {"kind": "gazelib-bench-lpp", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "environment": environment(dev), "settings": {"profiles": list(profiles), "steps": steps,
                                                            "warmup": warmup, "batch": batch,
                                                            "overrides": overrides or {}}, "rows": []}
    for profile in profiles:
        cfg = make_config("gazemedseg", "kvasir", preset_for(profile, "kvasir"), {**(overrides or {}), "device": dev.type})
        channels = build_model(get_method("gazemedseg"), cfg, dev).nets[0].final_conv.out_channels
        dtype = torch.bfloat16 if amp_enabled(cfg, dev) else torch.float32
        layout = torch.channels_last if channels_last_enabled(cfg, dev) else torch.contiguous_format
        g = torch.Generator().manual_seed(0)
        shape = (batch or cfg.batch_size, channels, cfg.image_size, cfg.image_size)
        feat = torch.randn(shape, generator=g).to(dev, dtype).contiguous(memory_format=layout).requires_grad_()
        upstream = torch.randn(shape, generator=g).to(dev, dtype)
        outputs = {}
        for impl in LPP_IMPLS:
            def once(impl=impl, feat=feat, upstream=upstream, cfg=cfg, outputs=outputs):
                out = local_pixel_propagation(feat, cfg.lpp_kernel, cfg.lpp_dilation, impl)
                out.backward(upstream)
                feat.grad = None
                outputs[impl] = out.detach()
            with _Memory(dev) as memory:
                times = _timed(once, steps, warmup, dev)
            row = {"profile": profile, "impl": impl, "shape": list(shape), "dtype": str(dtype).removeprefix("torch."),
                   "channels_last": layout is torch.channels_last, "kernel": cfg.lpp_kernel,
                   "dilation": cfg.lpp_dilation, "step_s": statistics.median(times), "step_times_s": times,
                   **memory.result}
            record["rows"].append(row)
            log(f"  {profile:6s} LPP {impl:5s} {list(shape)} {row['dtype']}: {row['step_s'] * 1e3:8.1f} ms forward + backward")
        loop, fused = (outputs[impl].float() for impl in LPP_IMPLS)
        record["rows"][-1].update(max_abs_difference=(loop - fused).abs().max().item(),
                                  bitwise_equal=torch.equal(loop, fused))
    return record


def format_lpp_table(record: dict) -> str:
    """The LPP record as a Markdown table (one row per profile x implementation)."""
    lines = ["| profile | impl | shape (B, C, H, W) | dtype | fwd+bwd ms | vs loop | max diff to loop |",
             "|---|---|---|---|---|---|---|"]
    loop = {r["profile"]: r["step_s"] for r in record["rows"] if r["impl"] == "loop"}
    for r in record["rows"]:
        diff = (f"{r['max_abs_difference']:.2g}" + (" (bitwise equal)" if r["bitwise_equal"] else "")
                if "max_abs_difference" in r else "-")
        lines.append(f"| {r['profile']} | {r['impl']} | {tuple(r['shape'])} | {r['dtype']} | {r['step_s'] * 1e3:.1f} | "
                     f"{r['step_s'] / loop[r['profile']]:.2f}x | {diff} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# The run and its record
# ------------------------------------------------------------------------------------------------

def _wait_for(barrier: Path, runs: int) -> None:
    barrier.mkdir(parents=True, exist_ok=True)
    (barrier / str(os.getpid())).touch()
    while len(list(barrier.iterdir())) < runs:
        time.sleep(0.01)


def bench_worker(entry: str, profile: str, device: str, steps: int, warmup: int, barrier: str, runs: int) -> dict:
    """One of ``concurrent`` processes: warm up, wait for the others, time ``steps`` steps."""
    dev = resolve_device(Config(device=device))
    name, entry_overrides = ENTRIES[entry]
    cfg = make_config(name, "kvasir", preset_for(profile, "kvasir"), {**entry_overrides, "device": dev.type})
    method = get_method(name)
    with deterministic(dev):
        model, step = _setup(method, cfg, dev)
        data = synthetic_data(method.targets, cfg, 2 * cfg.batch_size, dev)
        generator = torch.Generator(device=dev).manual_seed(0)

        def train_once():
            index = torch.randperm(2 * cfg.batch_size, generator=generator, device=dev)[:cfg.batch_size]
            step(train.sample_batch(data, index, generator, cfg.augment), cfg.lr)

        _timed(train_once, 0, warmup, dev)
        _wait_for(Path(barrier), runs)
        times = _timed(train_once, steps, 0, dev)
    return {"step_s": statistics.median(times), "batch_size": cfg.batch_size}


def bench_concurrent(entry: str, profile: str, device: str, runs: int, steps: int, warmup: int) -> dict:
    """``runs`` processes of ``bench_worker`` at once on ``device``; the table throughput."""
    with tempfile.TemporaryDirectory() as barrier:
        args = json.dumps([entry, profile, device, steps, warmup, barrier, runs])
        command = [sys.executable, "-c", f"import json; from gazelib.ops.bench import bench_worker; "
                                         f"print(json.dumps(bench_worker(*json.loads({args!r}))))"]
        workers = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(runs)]
        outputs = [w.communicate()[0] for w in workers]
    if any(w.returncode for w in workers):
        raise RuntimeError(f"bench --concurrent {runs}: a worker failed (exit codes {[w.returncode for w in workers]})")
    rows = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    return {"entry": entry, "profile": profile, "runs": runs, "steps": steps,
            "step_s": [r["step_s"] for r in rows],
            "runs_iterations_per_s": sum(1 / r["step_s"] for r in rows),
            "images_per_s": sum(r["batch_size"] / r["step_s"] for r in rows)}


def bench_stacked(entry: str, profile: str, device, runs: int, steps: int, warmup: int,
                  overrides: dict | None = None) -> dict:
    """Step time of ``runs`` runs of ``entry`` trained as one stacked model against one run alone (the
    trainer's own step), on synthetic device-resident data; runs x iterations per second of each."""
    from gazelib.core.stacked import Stack

    name, entry_overrides = ENTRIES[entry]
    method = get_method(name)
    cfgs = [make_config(name, "kvasir", preset_for(profile, "kvasir"),
                        {**entry_overrides, **(overrides or {}), "device": device.type, "seed": seed})
            for seed in range(runs)]
    with deterministic(device):
        data = synthetic_data(method.targets, cfgs[0], 2 * cfgs[0].batch_size, device)
        generator = torch.Generator(device=device).manual_seed(0)
        batch_size = cfgs[0].batch_size

        def batch():
            index = torch.randperm(2 * batch_size, generator=generator, device=device)[:batch_size]
            return train.sample_batch(data, index, generator, cfgs[0].augment)

        model, step = _setup(method, cfgs[0], device)
        alone = _timed(lambda: step(batch(), cfgs[0].lr), steps, warmup, device)
        members = []
        for cfg in cfgs:
            member = build_model(method, cfg, device)
            members.append(train.Run(cfg, "", device, member, train.make_optimiser(member, cfg, device), generator,
                                     data, batch_size, {}, method=method))
        stack = Stack(members)
        together = _timed(lambda: stack.step([batch() for _ in cfgs], [cfg.lr for cfg in cfgs]), steps, warmup, device)
    one, many = statistics.median(alone), statistics.median(together)
    return {"entry": entry, "profile": profile, "runs": runs, "steps": steps, "image_size": cfgs[0].image_size,
            "batch_size": batch_size, "step_s_alone": one, "step_s_stacked": many,
            "runs_iterations_per_s_alone": 1 / one, "runs_iterations_per_s_stacked": runs / many,
            "speedup_over_one": one * runs / many}


def environment(device) -> dict:

    env = {"device": device.type, "device_name": device_name(device), "cpu_count": os.cpu_count(),
           "torch_threads": torch.get_num_threads(), "python": platform.python_version(), "torch": torch.__version__,
           "numpy": np.__version__, "platform": platform.platform(), "git": git_state(),
           "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}
    if device.type == "cuda":
        env.update(cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
    return env


def run_bench(device: str = "auto", methods=tuple(ENTRIES), profiles=("paper", "quick"), steps: int = 3,
              warmup: int = 1, eval_images: int = 32, reference: bool = True, gaze: bool = False,
              overrides: dict | None = None, workers: int | None = None, concurrent: int = 0,
              peak_tflops: float | None = None, seeds: int = 3, stacked: int = 0, log=print) -> dict:
    """Run the benchmark (module doc); return the record (not yet written). ``peak_tflops`` overrides
    the device's peak; ``seeds``: the Table 1 projection's (``mfu``); ``stacked=N``: also N runs as one
    stacked model against one alone."""
    unknown = [m for m in methods if m not in ENTRIES] + [p for p in profiles if p not in PROFILES]
    if unknown:
        raise ValueError(f"unknown bench methods/profiles {unknown}; methods: {', '.join(ENTRIES)}; "
                         f"profiles: {', '.join(PROFILES)}")
    if steps < 1 or warmup < 0:
        raise ValueError(f"need steps >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}")
    dev = resolve_device(Config(device=device))
    started = time.perf_counter()
    peak = device_peak(dev, device_name(dev), peak_tflops)
    record = {"kind": "gazelib-bench", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "environment": {**environment(dev), "peak_tflops": peak},
              "settings": {"methods": list(methods), "profiles": list(profiles), "steps": steps, "warmup": warmup,
                           "eval_images": eval_images, "reference": reference, "gaze": gaze,
                           "overrides": overrides or {}, "reference_workers": workers, "concurrent": concurrent,
                           "stacked": stacked,
                           "data": "synthetic device-resident tensors (fast path)"},
              "rows": [], "reference": [], "gaze": None}
    for profile in profiles:
        for entry in methods:
            row = bench_method(entry, profile, dev, steps, warmup, eval_images, overrides, peak)
            record["rows"].append(row)
            log(f"  {profile:6s} {entry:12s} {row['train_images_per_s']:8.2f} img/s train, "
                f"{row['eval_images_per_s']:8.2f} img/s eval, {row['achieved_tflops'] * 1e3:8.1f} GFLOP/s")
        if reference:
            ref = bench_reference(profile, dev, steps, warmup, workers)
            fast = next((r for r in record["rows"] if r["profile"] == profile and r["entry"] == REFERENCE_ENTRY), None)
            if fast is None:
                fast = bench_method(REFERENCE_ENTRY, profile, dev, steps, warmup, eval_images, overrides, peak)
                record["rows"].append(fast)
            ref["speedup_fast_over_reference"] = fast["train_images_per_s"] / ref["train_images_per_s"]
            record["reference"].append(ref)
            log(f"  {profile:6s} reference    {ref['train_images_per_s']:8.2f} img/s train "
                f"(fast/reference = {ref['speedup_fast_over_reference']:.2f}x)")
    record["projection"] = [project_table1(record["rows"], profile, seeds) for profile in profiles]
    if concurrent > 1:
        record["concurrent"] = []
        for profile in profiles:
            for entry in methods:
                alone = bench_concurrent(entry, profile, dev.type, 1, steps, warmup)
                together = bench_concurrent(entry, profile, dev.type, concurrent, steps, warmup)
                together["speedup_over_one"] = together["runs_iterations_per_s"] / alone["runs_iterations_per_s"]
                record["concurrent"] += [alone, together]
                log(f"  {profile:6s} {entry:12s} 1 run {alone['runs_iterations_per_s']:7.2f} it/s; "
                    f"{concurrent} at once {together['runs_iterations_per_s']:7.2f} runs x it/s "
                    f"({together['speedup_over_one']:.2f}x)")
    if stacked > 1:
        record["stacked"] = []
        for profile in profiles:
            for entry in methods:
                row = bench_stacked(entry, profile, dev, stacked, steps, warmup, overrides)
                record["stacked"].append(row)
                log(f"  {profile:6s} {entry:12s} 1 run {row['runs_iterations_per_s_alone']:7.2f} it/s; {stacked} "
                    f"stacked {row['runs_iterations_per_s_stacked']:7.2f} runs x it/s ({row['speedup_over_one']:.2f}x)")
    if gaze:
        record["gaze"] = bench_gaze(workers=workers)
    record["wall_s"] = time.perf_counter() - started
    return record


def format_table(record: dict) -> str:
    """The record as a Markdown table (one row per method x profile, then the reference rows; FLOPs and
    MFU where counted), the Table 1 projection per profile, then the other parts measured."""
    mem = "peak mem MB" + (" (RSS growth)" if record["environment"]["device"] == "cpu" else "")
    lines = [(f"| profile | method | path | px | batch | step s | train img/s | eval img/s | {mem} | "
              "GFLOP/step | TFLOP/s | % of peak |"), "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in record["rows"] + record["reference"]:
        ev = f"{r['eval_images_per_s']:.2f}" if "eval_images_per_s" in r else "-"
        path = r["path"] + (f" (fast/ref {r['speedup_fast_over_reference']:.2f}x)"
                            if "speedup_fast_over_reference" in r else "")
        flops = (f"{r['flops_per_step'] / 1e9:.1f} | {r['achieved_tflops']:.3f} | "
                 + (f"{100 * r['mfu']:.1f}" if "mfu" in r else "-") if "flops_per_step" in r else "- | - | -")
        lines.append(f"| {r['profile']} | {r['entry']} | {path} | {r['image_size']} | {r['batch_size']} | "
                     f"{r['step_s']:.3f} | {r['train_images_per_s']:.2f} | {ev} | {r['peak_mem_mb']:.0f} | {flops} |")
    peak = record["environment"].get("peak_tflops")
    if peak:
        lines += ["", f"Peak: {peak['bf16']:.3g} TFLOP/s bf16, {peak['fp32']:.3g} fp32 ({peak['source']})."]
    for p in record.get("projection", []):
        missing = f"; not measured: {', '.join(p['missing'])}" if p["missing"] else ""
        per_row = ", ".join(f"{r['label']} {r['seconds'] / 3600:.2f} h" for r in p["rows"])
        lines.append(f"Table 1 x {p['seeds']} seeds at {p['profile']}, one run at a time, training steps only: "
                     f"{p['total_s'] / 3600:.2f} h ({per_row}{missing}).")
    if record.get("concurrent"):
        lines += ["", "| profile | method | runs at once | runs x it/s | img/s | vs one run |", "|---|---|---|---|---|---|"]
        for r in record["concurrent"]:
            lines.append(f"| {r['profile']} | {r['entry']} | {r['runs']} | {r['runs_iterations_per_s']:.2f} | "
                         f"{r['images_per_s']:.1f} | {r.get('speedup_over_one', 1.0):.2f}x |")
    if record.get("stacked"):
        lines += ["", "| profile | method | runs stacked | step s (1 run) | step s (stacked) | runs x it/s (1 run) | "
                      "runs x it/s (stacked) | vs one run |", "|---|---|---|---|---|---|---|---|"]
        for r in record["stacked"]:
            lines.append(f"| {r['profile']} | {r['entry']} | {r['runs']} | {r['step_s_alone']:.3f} | "
                         f"{r['step_s_stacked']:.3f} | {r['runs_iterations_per_s_alone']:.2f} | "
                         f"{r['runs_iterations_per_s_stacked']:.2f} | {r['speedup_over_one']:.2f}x |")
    if record.get("gaze"):
        g = record["gaze"]
        lines.append("")
        lines.append(f"Gaze preprocessing of {g['dataset']} ({g['images']} images): "
                     + ", ".join(f"{k} {g[f'{k}_s']:.1f} s" for k in GAZE_KINDS) + f", total {g['total_s']:.1f} s")
    return "\n".join(lines)


def write_record(record: dict, root: Path | None = None) -> Path:
    """``results_root()/bench/<bench|lpp>-<device>-<time>.json`` (atomic) and the table beside it (``.md``)."""
    lpp = record["kind"] == "gazelib-bench-lpp"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(root or results_root()) / "bench" / f"{'lpp' if lpp else 'bench'}-{record['environment']['device']}-{stamp}.json"
    files.write_text(path, json.dumps(record, indent=1))
    files.write_text(path.with_suffix(".md"), (format_lpp_table if lpp else format_table)(record) + "\n")
    return path
