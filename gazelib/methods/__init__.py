"""Method units, one module per method; importing this package registers them all."""
from gazelib.methods import full, gazemedseg, gradtrack, san, vam  # noqa: F401  (registration)
from gazelib.methods.base import Method, get_method, known_methods, register

__all__ = ["Method", "get_method", "known_methods", "register"]
