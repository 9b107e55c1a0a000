"""perflab: the performance-engineering workbench in one package.

The capabilities live in subpackages (``perflab.stats``, ``perflab.load``, ...); each is a
typed Python API first and a command (``perflab ...``) second.
"""

__version__ = "0.1.0"

from perflab.lazy import lazy_exports

__getattr__ = lazy_exports("perflab", {"benchmark": "perflab.bench.registry"})
