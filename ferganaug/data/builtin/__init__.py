"""Built-in procedural faces: a dataset that needs no download and has expression ground truth.

``render`` draws faces from (identity id, emotion, intensity, nuisance seed);
``builtin_dataset`` builds a FER2013-like FaceDataset from it; ``render_counterparts``
re-renders a builtin dataset's rows with other emotions (the ground truth of an edit).
"""

from ferganaug.data.builtin.dataset import builtin_dataset, render_counterparts
from ferganaug.data.builtin.expression import ACTION_UNITS, action_units, prototype_matrix
from ferganaug.data.builtin.identity import HAIR_STYLES, IdentityParams
from ferganaug.data.builtin.render import GENERATOR_VERSION, render

__all__ = [
    "ACTION_UNITS", "GENERATOR_VERSION", "HAIR_STYLES", "IdentityParams",
    "action_units", "builtin_dataset", "prototype_matrix", "render", "render_counterparts",
]
