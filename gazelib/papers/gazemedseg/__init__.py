"""GazeMedSeg (Zhong et al., MICCAI 2024): gaze heatmap + dense CRF -> multi-level pseudo-masks,
one network per level, cross-level consistency through Local Pixel Propagation.

The map from the paper's equations and tables to these modules is ``README.md`` in this folder.
"""
