"""Data layer: fixation files, data sets, splits, fetching and checking the data."""
