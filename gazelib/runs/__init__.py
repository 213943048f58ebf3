"""Run bookkeeping: a run's identity (run id, selected images), its record and checkpoint files,
content fingerprints of data and code, and the git state a run was made from."""
