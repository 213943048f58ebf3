"""Selective attention (Huang et al., BMVC 2021): the Selective Attention Network and the Auxiliary
Attention Block, gaze as auxiliary supervision under limited data.

The map from the paper's equations and tables to these modules is ``README.md`` in this folder.
"""
