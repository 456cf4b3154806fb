"""Pictures (PNG, through matplotlib: the optional extra ``plot``), one module per kind.

- ``curves``: the loss while training, an agent's returns, a bandit's regret;
- ``surfaces``: gradient descent on a loss surface, a classifier's decision regions;
- ``projections``: clusters, and data projected on its principal components;
- ``matrices``: a confusion matrix, a transformer's attention;
- ``tuning``: a hyperparameter search's scores;
- ``predictions``: a regressor's predictions against the truth.
- ``graph``: the computation graph behind a tensor, as SVG (Graphviz: the extra ``graph``).

Every function returns the matplotlib Figure it drew, which a Jupyter notebook shows inline,
and, given a ``path``, also writes it there as a PNG, atomically. matplotlib is imported only
when a picture is drawn; without it each function raises ImportError naming
``pip install 'theta-ml[plot]'``.
"""

from theta.plot.curves import loss_curve, regret_curve, reward_curve
from theta.plot.graph import draw_graph
from theta.plot.graph_data import computation_graph
from theta.plot.matrices import attention_map, confusion_matrix
from theta.plot.predictions import predicted_vs_actual
from theta.plot.projections import clusters, projection
from theta.plot.surfaces import decision_boundary, descent_path
from theta.plot.tuning import search_scores

__all__ = [
    "attention_map", "clusters", "confusion_matrix", "decision_boundary", "descent_path",
    "loss_curve", "predicted_vs_actual", "projection", "regret_curve", "reward_curve",
    "search_scores",
    "computation_graph", "draw_graph",
]  # fmt: skip
