"""The ``gazelib`` command groups, one module each (registered by ``gazelib/cli.py``)."""
