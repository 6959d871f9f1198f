"""The reference task: the jaxley tutorial's SNN on jaxley, and its plain-JAX twin.

``config`` (what the task is), ``spiking`` (the jaxley pieces released jaxley
lacks), ``data`` (the tutorial's draws), ``jaxley_net`` and ``dense`` (the two
backends), ``model`` (loss, accuracy, gradient step, training: :class:`Task`).
"""

from snnbench.task.config import TaskConfig
from snnbench.task.data import TaskData, make_data
from snnbench.task.model import (
    BACKENDS,
    Task,
    TrainResult,
    accuracy_of_max_voltage,
    cross_entropy_of_max_voltage,
    make_task,
)

__all__ = [
    "BACKENDS",
    "Task",
    "TaskConfig",
    "TaskData",
    "TrainResult",
    "accuracy_of_max_voltage",
    "cross_entropy_of_max_voltage",
    "make_data",
    "make_task",
]
