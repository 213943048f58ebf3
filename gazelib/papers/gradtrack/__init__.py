"""GradTrack (Wang et al., 2025): gaze track maps from fixation order (eqs. 1-2), Track Attention in the
decoder, the track-map-guided loss GTMG (eqs. 3, 5).

The map from the paper's equations and tables to these modules is ``README.md`` in this folder.
"""
