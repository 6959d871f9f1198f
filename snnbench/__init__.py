"""snnbench: benchmark and profile spiking-neural-network training with JAX and jaxley.

The reference task is the jaxley tutorial "Fitting an SNN to do a classification
task"; :func:`make_task` builds it on jaxley or on a plain-JAX twin.
"""

from snnbench.config import TaskConfig
from snnbench.errors import SnnbenchError
from snnbench.task import BACKENDS, Task, TrainResult, make_task, use_precision

__version__ = "0.1.0"

__all__ = [
    "BACKENDS",
    "SnnbenchError",
    "Task",
    "TaskConfig",
    "TrainResult",
    "make_task",
    "use_precision",
]
