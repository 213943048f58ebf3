"""The rows every paper compares against: full supervision (U-Net, nnU-Net) and supervision by the
soft gaze maps (VAM, VAM_D-CRF). ``README.md`` in this folder maps them to code.
"""
