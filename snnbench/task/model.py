"""The reference task: data, a backend's forward pass, loss, accuracy and training.

``make_task(config, backend)`` is the public entry point. Both backends share the
data, the parameter pytree (``[{"SpikeSynapse_gS": (n_edges,)}]``), the loss and
the optimiser, so their outputs and gradients can be compared one to one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import optax

from snnbench.errors import expect
from snnbench.precision import require_precision
from snnbench.task import dense, slowdown
from snnbench.task.config import TaskConfig
from snnbench.task.data import TaskData, make_data

#: The reference task's backends: its jaxley network and the plain-JAX twin.
BACKENDS = ("jaxley", "dense")
#: A workload beside the task (:mod:`snnbench.task.hh_canary`), measured on request.
CANARY = "jaxley_hh"
#: Everything a case may measure.
ALL_BACKENDS = (*BACKENDS, CANARY)
Params = list[dict[str, jax.Array]]


def cross_entropy_of_max_voltage(voltages: jax.Array, targets: jax.Array) -> jax.Array:
    """The tutorial's loss: softmax over each output's peak voltage, then cross-entropy."""
    log_p = jax.nn.log_softmax(jnp.max(voltages, axis=2), axis=1)
    return -jnp.mean(jnp.take_along_axis(log_p, targets[:, None], axis=1))


def accuracy_of_max_voltage(voltages: jax.Array, targets: jax.Array) -> jax.Array:
    """Fraction of samples whose highest-peaking output is the target class."""
    return jnp.mean(jnp.argmax(jnp.max(voltages, axis=2), axis=1) == targets)


@dataclass(frozen=True)
class TrainResult:
    """Per-epoch history of a training run, as the tutorial's progress bar shows it.

    ``losses[e]`` is the loss at the start of epoch ``e`` (the one its gradient was
    taken of); ``accuracies[e]`` is measured after that epoch's update.
    """

    losses: np.ndarray
    accuracies: np.ndarray
    params: Params = field(repr=False)
    wall_s: float

    @property
    def epochs(self) -> int:
        return len(self.losses)

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1]) if self.epochs else float("nan")

    @property
    def final_accuracy(self) -> float:
        return float(self.accuracies[-1]) if self.epochs else float("nan")


class Task:
    """One instance of the reference task on one backend.

    Attributes:
        config: the validated configuration.
        backend: ``"jaxley"`` or ``"dense"``.
        data: weights, input spikes and currents, targets.
        forward: jitted ``forward(params, inputs) -> (batch, n_output, n_time)`` mV.
        raw_forward: the same function before ``jax.jit`` (for timing trace/lower).
        jit_step: jitted :meth:`raw_step`, ``(params, opt_state, inputs, targets)``.
    """

    def __init__(
        self,
        config: TaskConfig,
        backend: str,
        data: TaskData,
        raw_forward: Callable,
        params: Params,
    ):
        self.config = config
        self.backend = backend
        self.data = data
        self.raw_forward = raw_forward
        self.forward = jax.jit(raw_forward)
        self._init_params = params
        self.optimizer = optax.adam(learning_rate=config.learning_rate)
        self.jit_step = jax.jit(self.raw_step)
        self._loss = jax.jit(self._loss_of)
        self._accuracy = jax.jit(self._accuracy_of)
        self._grad = jax.jit(jax.grad(self._loss_of))

    @property
    def inputs(self) -> jax.Array:
        """Input currents (nA), shape ``(batch, n_input, n_steps)``."""
        return self.data.inputs

    @property
    def targets(self) -> jax.Array:
        """Class labels, shape ``(batch,)``."""
        return self.data.targets

    def init_params(self) -> Params:
        """The tutorial's initial weights as the backend's parameter pytree (a copy)."""
        return jax.tree.map(jnp.array, self._init_params)

    def init_opt_state(self, params: Params) -> optax.OptState:
        return self.optimizer.init(params)

    def placed_on(self, device: jax.Device) -> Task:
        """The same task with its data and initial weights committed to ``device``.

        Placed once, so that no call moves them again: an uncommitted host array
        would be copied to the device on every jitted call.
        """
        d = self.data
        data = TaskData(*jax.device_put((d.weights, d.spikes, d.inputs, d.targets), device))
        params = jax.device_put(self._init_params, device)
        return Task(self.config, self.backend, data, self.raw_forward, params)

    def _loss_of(self, params: Params, inputs: jax.Array, targets: jax.Array) -> jax.Array:
        return cross_entropy_of_max_voltage(self.raw_forward(params, inputs), targets)

    def _accuracy_of(self, params: Params, inputs: jax.Array, targets: jax.Array) -> jax.Array:
        return accuracy_of_max_voltage(self.raw_forward(params, inputs), targets)

    def raw_step(self, params: Params, opt_state, inputs: jax.Array, targets: jax.Array):
        """One training step (not jitted): loss and gradient, then the Adam update."""
        loss, grads = jax.value_and_grad(self._loss_of)(params, inputs, targets)
        updates, opt_state = self.optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    def step(self, params: Params, opt_state):
        """Jitted training step on the task's data: ``(params, opt_state, loss)``."""
        self._check_precision()
        return self.jit_step(params, opt_state, self.inputs, self.targets)

    def loss(self, params: Params) -> jax.Array:
        """Cross-entropy of the max-voltage softmax on the task's batch."""
        self._check_precision()
        return self._loss(params, self.inputs, self.targets)

    def grad(self, params: Params) -> Params:
        """Gradient of :meth:`loss` with respect to every weight."""
        self._check_precision()
        return self._grad(params, self.inputs, self.targets)

    def accuracy(self, params: Params) -> jax.Array:
        """Classification accuracy on the task's batch."""
        self._check_precision()
        return self._accuracy(params, self.inputs, self.targets)

    def train(
        self, epochs: int, progress: bool = True, params: Params | None = None
    ) -> TrainResult:
        """Train with Adam for ``epochs`` epochs on the full batch, as the tutorial does."""
        expect(
            isinstance(epochs, int) and not isinstance(epochs, bool) and epochs >= 0,
            "epochs",
            "an integer >= 0",
            epochs,
        )
        params = self.init_params() if params is None else params
        opt_state = self.init_opt_state(params)
        losses, accuracies = np.zeros(epochs), np.zeros(epochs)
        bar = _progress_bar(epochs, f"train {self.backend}", progress)
        start = time.perf_counter()
        for epoch in range(epochs):
            params, opt_state, loss = self.step(params, opt_state)
            losses[epoch] = float(loss)
            accuracies[epoch] = float(self.accuracy(params))
            bar.set_postfix(loss=f"{losses[epoch]:.4f}", accuracy=f"{accuracies[epoch]:.3f}")
            bar.update()
        bar.close()
        jax.block_until_ready(params)
        wall_s = time.perf_counter() - start
        return TrainResult(losses=losses, accuracies=accuracies, params=params, wall_s=wall_s)

    def _check_precision(self) -> None:
        require_precision(self.config.precision, f"this {self.config.precision} task")


def _progress_bar(total: int, description: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, disable=not enabled, dynamic_ncols=True)


def effective_matmul_precision(
    config: TaskConfig,
    backend: str,
    platform: str,
    compute_capability: str | float | None = None,
    tf32_override: str = "",
) -> str:
    """The arithmetic ``backend``'s matmuls run in: "none" for the jaxley networks (their
    programs hold no ``dot_general``), else :func:`snnbench.task.dense.effective_matmul_precision`."""
    if backend != "dense":
        return "none"
    return dense.effective_matmul_precision(config, platform, compute_capability, tf32_override)


def make_task(
    config: TaskConfig | None = None,
    backend: str = "jaxley",
    data: TaskData | None = None,
    device: jax.Device | None = None,
) -> Task:
    """Build the reference task on ``backend`` ("jaxley" or "dense"), or the HH canary.

    Args:
        config: the task; defaults to the tutorial's.
        backend: "jaxley" (the network built with jaxley), "dense" (the plain-JAX twin),
            or "jaxley_hh" (:mod:`snnbench.task.hh_canary`, not the reference task).
        data: arrays to use instead of the tutorial's draw for ``config`` (e.g. inputs
            resampled to another dt); their dtype must match ``config.precision``.
        device: where the task's arrays live and its programs run. The data draw and
            jaxley's build (many tiny eager ops) always run on the host CPU, where
            they are cheap; the arrays are then placed on ``device`` once. None: the
            default device, as before (everything made where JAX puts it).

    Raises:
        SnnbenchError: on a bad argument, or when this process does not compute in
            ``config.precision`` (call :func:`snnbench.set_precision` first).
    """
    config = TaskConfig() if config is None else config
    expect(isinstance(config, TaskConfig), "config", "a snnbench.TaskConfig", type(config).__name__)
    expect(backend in ALL_BACKENDS, "backend", f"one of {ALL_BACKENDS}", backend)
    require_precision(config.precision, "make_task(config)")
    if backend == CANARY:
        from snnbench.task import hh_canary

        hh_canary.check_config(config)
    if device is None:
        return _make_task(config, backend, data)
    with jax.default_device(jax.devices("cpu")[0]):
        task = _make_task(config, backend, data)
    return task.placed_on(device)


def _make_task(config: TaskConfig, backend: str, data: TaskData | None) -> Task:
    data = make_data(config) if data is None else data
    if backend == CANARY:
        return _make_canary(config, data)
    if backend == "dense":
        params, forward = [{dense.WEIGHT: data.weights}], dense.make_forward(config)
    else:
        from snnbench.task import jaxley_net

        network = jaxley_net.build_network(config, data.weights)
        params = jaxley_net.initial_params(network)
        forward = jaxley_net.make_forward(network, config)
    forward = slowdown.slowed_forward(
        forward, backend, config.trace_slowdown, config.compile_slowdown
    )
    return Task(config, backend, data, forward, params)


def _make_canary(config: TaskConfig, data: TaskData) -> Task:
    from snnbench.task import hh_canary

    net = hh_canary.build_network(config)
    forward = hh_canary.make_forward(net, config)
    return Task(config, CANARY, hh_canary.canary_data(data), forward, net.get_parameters())
