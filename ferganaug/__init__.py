"""ferganaug: facial expression recognition toolkit.

Kept import-light on purpose: ``import classifiers`` must not pull in the GAN.
"""

__version__ = "0.1.0"
