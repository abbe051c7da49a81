"""The conditional expression GAN (layer 1): networks, losses, the frozen-classifier seam,
training. Never imports ``classifiers``: a classifier reaches the GAN only as a callable."""
