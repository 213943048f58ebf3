"""From records to what a reader sees: summaries over seeds, statistics, tables, plots, lesson
figures, the measured differences from the papers, gaze-label quality."""
