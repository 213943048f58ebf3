"""Target ceilings: a training-size mask scored at the image's own resolution, by hand; the masks each
method's targets define; the table's name per profile."""
from __future__ import annotations

import numpy as np
import torch

import gazelib.papers  # noqa: F401  (registers every paper's targets and keys)
from gazelib.core.config import make_config
from gazelib.core.methods import get_method
from gazelib.papers import target_ceilings


class Square:
    """One 16 x 16 image whose truth is its top-left 8 x 8 square."""
    def mask(self, image_id):
        truth = np.zeros((16, 16), dtype=bool)
        truth[:8, :8] = True
        return truth


def test_a_training_size_mask_is_scored_at_the_image_resolution_by_hand():
    exact = torch.zeros(2, 8, 8, dtype=torch.bool)
    exact[0, :4, :4] = True            # the truth at half the size: upsampled, exactly the truth
    exact[1, :4, 1:5] = True           # one training pixel (two image pixels) to the right: columns 2-9
    counts = target_ceilings.mask_counts(Square(), ["a", "b"], exact)
    assert counts["a"] == {"tp": 64, "fp": 0, "fn": 0}
    assert counts["b"] == {"tp": 8 * 6, "fp": 8 * 2, "fn": 8 * 2}


def test_gradtrack_masks_are_the_crf_mask_the_band_and_their_union():
    track = torch.zeros(1, 3, 2, 2)
    track[0, 2, 0, 0] = 0.3                           # the band of all fixations (G100) at one pixel
    track[0, 0, 1, 1] = 0.9                           # G50 elsewhere: not the band
    crf = torch.tensor([[[[0, 1], [0, 0]]]], dtype=torch.uint8)
    masks = target_ceilings.TARGET_MASKS["gradtrack"][1]({"track": track, "conservative_mask": crf},
                                                        make_config("gradtrack", "kvasir", "laptop"))
    assert masks["band G100 > 0"].tolist() == [[[True, False], [False, False]]]
    assert masks["CRF ≥ 0.7"].tolist() == [[[False, True], [False, False]]]
    assert masks["band ∪ CRF mask"].tolist() == [[[True, True], [False, False]]]


def test_every_table1_and_san_method_has_its_targets_masks_and_the_table_is_named_by_its_images():
    for method, (names, _) in target_ceilings.TARGET_MASKS.items():
        assert set(get_method(method).targets) <= {*names, "mask"}, method   # every target it trains on
    assert target_ceilings.ceilings_name("kvasir", "laptop") == "target_ceilings_kvasir"   # every image
    assert target_ceilings.ceilings_name("kvasir", "quick") == "target_ceilings_kvasir_quick"   # a subset
    assert target_ceilings.profile_size("kvasir", "laptop") == 64
