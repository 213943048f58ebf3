"""gazelib: learn medical image segmentation from eye-tracking data."""
__version__ = "0.1.0"
