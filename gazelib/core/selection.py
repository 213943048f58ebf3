"""Which checkpoint a run record scores (``cfg.selection``).

* ``final`` (default, what gazelib reports): the model after the last iteration.
* ``best_on_test``: what the GazeMedSeg authors do -- evaluate on the TEST split every
  ``cfg.selection_every`` iterations (their ``--val_step``, 1,000) and at the end, and report the
  checkpoint with the best mean Dice. The test set then chooses the model, so the number is
  OPTIMISTIC (an upper bound of what the recipe gives on unseen images); records and tables say so.
  It exists to show how much of a paper's number this protocol explains, never as the main result.
"""
from __future__ import annotations

import numpy as np

SELECTIONS = ("final", "best_on_test")


def check(cfg) -> None:
    if cfg.selection not in SELECTIONS:
        raise ValueError(f"unknown selection {cfg.selection!r}; selections: {', '.join(SELECTIONS)}")
    if cfg.selection_every < 1:
        raise ValueError(f"selection_every must be a positive number of iterations, got {cfg.selection_every}")


class BestOnTest:
    """``after_step(done, model)`` evaluates on the test split at every ``cfg.selection_every``-th and at the
    last iteration and keeps the best weights in ``state`` (saved with the checkpoint, so a resumed run
    selects the same checkpoint). ``mean_dice(model) -> float`` scores a model on the test split."""

    def __init__(self, cfg, state: dict, mean_dice):
        self.every, self.last, self.mean_dice = cfg.selection_every, cfg.iterations, mean_dice
        self.state = state.setdefault("selection", {"history": [], "best": None})

    def after_step(self, done: int, model) -> None:
        if done % self.every and done != self.last:
            return
        dice = float(self.mean_dice(model))
        model.train()
        self.state["history"].append([done, dice])
        best = self.state["best"]
        if best is None or dice > best["dice"]:
            weights = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            self.state["best"] = {"iteration": done, "dice": dice, "model": weights}

    def restore_best(self, model) -> None:
        model.load_state_dict(self.state["best"]["model"])


def record_entry(cfg, state: dict) -> dict:
    """The run record's ``selection`` field."""
    if cfg.selection == "final":
        return {"mode": "final", "iteration": cfg.iterations}
    chosen = state["selection"]
    return {"mode": "best_on_test", "optimistic": True, "every": cfg.selection_every,
            "iteration": chosen["best"]["iteration"], "test_dice_history": chosen["history"],
            "note": "checkpoint chosen on the test split (the GazeMedSeg authors' protocol): optimistic"}


def mean_test_dice(evaluate, model, method, dataset, test_ids, cfg) -> float:
    """Mean Dice of ``evaluate`` (``evaluate.evaluate``) over the test ids."""
    scores, _ = evaluate(model, method, dataset, test_ids, cfg)
    return float(np.mean([s["dice"] for s in scores.values()]))
