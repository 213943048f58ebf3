"""Gaze transforms: fixations -> heatmaps (VAM), dense-CRF refinement, pseudo-masks, GradTrack
track maps, SAN targets, and a parallel on-disk cache of all of them."""
