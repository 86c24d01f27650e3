"""xmr_lite: the small, tested library behind the book *Cross-Modal Retrieval, Executably*.

The top level holds the two helpers every chapter starts with; everything else lives in
modules named after what they do (``metrics``, ``distances``, ``search``, ``data``, ...).
"""

from xmr_lite._runtime import get_device, seed_everything

__version__ = "0.1.0"

__all__ = ["__version__", "get_device", "seed_everything"]
