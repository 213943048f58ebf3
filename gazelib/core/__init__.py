"""The shared core: configuration, the method contract and registry, networks, losses, training
targets, the one trainer, evaluation and metrics. It knows no paper by name: papers register their
methods, config fields, targets and gaze-map kinds (``gazelib.papers``)."""
