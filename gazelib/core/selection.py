"""Which checkpoint a run record scores (``cfg.selection``), and the test split's Dice during training.

* ``final`` (default, what gazelib reports): the model after the last iteration. With
  ``cfg.test_every = k > 0`` the run also scores the test split every k iterations and at the end
  and keeps that trajectory in its record; the best point of it is the OPTIMISTIC best-on-test value
  of the same run (``gazelib.report.ledger``), and the scored checkpoint stays the final one.
* ``best_on_test``: what the GazeMedSeg authors do -- evaluate on the TEST split every
  ``cfg.selection_every`` iterations (their ``--val_step``, 1,000) and at the end, and report the
  checkpoint with the best mean Dice. The test set then chooses the model, so the number is
  OPTIMISTIC (an upper bound of what the recipe gives on unseen images); records and tables say so.
  It exists to show how much of a paper's number this protocol explains, never as the main result.

A trajectory point is ``[iteration, mean per-image Dice, pooled Dice]`` (pooled: ``2 sum tp /
(2 sum tp + sum fp + sum fn)`` over the test images); records written before pooled Dice was kept
have ``[iteration, mean per-image Dice]``.
"""
from __future__ import annotations

from gazelib.core.metrics import mean_dice, pooled_dice

SELECTIONS = ("final", "best_on_test")


def check(cfg) -> None:
    if cfg.selection not in SELECTIONS:
        raise ValueError(f"unknown selection {cfg.selection!r}; selections: {', '.join(SELECTIONS)}")
    if cfg.selection_every < 1:
        raise ValueError(f"selection_every must be a positive number of iterations, got {cfg.selection_every}")
    if cfg.test_every and cfg.selection != "final":
        raise ValueError(f"test_every={cfg.test_every} is for selection=final; selection={cfg.selection} "
                         f"keeps its own test trajectory every selection_every={cfg.selection_every} iterations")


class TestTrajectory:
    """``after_step(done, model)`` scores the test split at every ``every``-th and at the last iteration and
    appends ``[done, mean Dice, pooled Dice]`` to ``state["selection"]["history"]`` (saved with the
    checkpoint, so a resumed run keeps it). ``test_counts(model) -> {image id: {"tp", "fp", "fn"}}``."""

    def __init__(self, every: int, last: int, state: dict, test_counts):
        self.every, self.last, self.test_counts = every, last, test_counts
        self.state = state.setdefault("selection", {"history": [], "best": None})

    def scores_at(self, done: int) -> bool:
        """Whether the test split is scored after iteration ``done``."""
        return done % self.every == 0 or done == self.last

    def after_step(self, done: int, model) -> float | None:
        """The mean Dice scored at ``done``; None where this iteration is not scored."""
        if not self.scores_at(done):
            return None
        counts = self.test_counts(model)
        model.train()
        dice = mean_dice(counts)
        self.state["history"].append([done, dice, pooled_dice(counts)])
        return dice


class BestOnTest(TestTrajectory):
    """A ``TestTrajectory`` that also keeps the weights of its best mean Dice (``restore_best``)."""

    def after_step(self, done: int, model) -> float | None:
        dice = super().after_step(done, model)
        best = self.state["best"]
        if dice is not None and (best is None or dice > best["dice"]):
            weights = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            self.state["best"] = {"iteration": done, "dice": dice, "model": weights}
        return dice

    def restore_best(self, model) -> None:
        model.load_state_dict(self.state["best"]["model"])


def tracker(cfg, state: dict, test_counts) -> TestTrajectory | None:
    """The run's test evaluations during training: ``BestOnTest``, a ``TestTrajectory`` or none."""
    if cfg.selection == "best_on_test":
        return BestOnTest(cfg.selection_every, cfg.iterations, state, test_counts)
    return TestTrajectory(cfg.test_every, cfg.iterations, state, test_counts) if cfg.test_every else None


def record_entry(cfg, state: dict) -> dict:
    """The run record's ``selection`` field."""
    if cfg.selection == "final":
        entry = {"mode": "final", "iteration": cfg.iterations}
        if cfg.test_every:
            entry.update(test_every=cfg.test_every, test_dice_history=state["selection"]["history"],
                         note="test Dice during training, for the OPTIMISTIC best-on-test value beside the "
                              "final one; the scored checkpoint is the final one")
        return entry
    chosen = state["selection"]
    return {"mode": "best_on_test", "optimistic": True, "every": cfg.selection_every,
            "iteration": chosen["best"]["iteration"], "test_dice_history": chosen["history"],
            "note": "checkpoint chosen on the test split (the GazeMedSeg authors' protocol): optimistic"}
