"""Pictures (PNG, through matplotlib: the optional extra ``plot``), one module per kind.

- ``curves``: the loss while training, an agent's returns, a bandit's regret;
- ``surfaces``: gradient descent on a loss surface, a classifier's decision regions;
- ``projections``: clusters, and data projected on its principal components;
- ``matrices``: a confusion matrix, a transformer's attention;
- ``tuning``: a hyperparameter search's scores.

Every function writes its PNG atomically and returns a :class:`Picture` (the path and the
matplotlib figure drawn). matplotlib is imported only when a picture is drawn; without it
each function raises ImportError naming ``pip install 'theta-ml[plot]'``.
"""

from theta.plot._figure import Picture
from theta.plot.curves import loss_curve, regret_curve, reward_curve
from theta.plot.matrices import attention_map, confusion_matrix
from theta.plot.projections import clusters, projection
from theta.plot.surfaces import decision_boundary, descent_path
from theta.plot.tuning import search_scores

__all__ = [
    "Picture", "attention_map", "clusters", "confusion_matrix", "decision_boundary",
    "descent_path", "loss_curve", "projection", "regret_curve", "reward_curve", "search_scores",
]  # fmt: skip
