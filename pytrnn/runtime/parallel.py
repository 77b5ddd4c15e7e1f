"""Data parallelism with JAX's own machinery: a 1-D ``Mesh`` over the devices, the
parameters replicated, the minibatch's B streams split over the devices, and the
gradient reduction left to XLA (the loss is a mean over the batch, so sharding
propagation inserts the all-reduce). Across hosts, ``jax.distributed`` joins the
processes into one mesh and each process feeds its own share of the streams.
"""

from __future__ import annotations

import os

import numpy as np

from pytrnn.errors import ConfigError

HOST_DEVICES_FLAG = "--xla_force_host_platform_device_count"


def ask_for_host_devices(n: int) -> None:
    """Make the CPU show up as ``n`` JAX devices; must run before JAX starts."""
    flags = os.environ.get("XLA_FLAGS", "")
    if n > 1 and HOST_DEVICES_FLAG not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {HOST_DEVICES_FLAG}={n}".strip()


def init_distributed(coordinator: str, num_processes: int, process_id: int) -> None:
    """Join a multi-process run (CPU collectives through gloo)."""
    import jax

    if num_processes < 1 or not 0 <= process_id < num_processes:
        raise ConfigError(
            f"--process-id must be in [0, {num_processes}), got {process_id}"
        )
    try:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except Exception:  # an older JAX without the option: GPUs still work
        pass
    jax.distributed.initialize(
        coordinator_address=coordinator,
        num_processes=num_processes,
        process_id=process_id,
    )


class DataParallel:
    """How a model's arrays are laid out: ``n`` = 1 is a no-op."""

    def __init__(self, n: int, mesh=None):
        self.n, self.mesh = n, mesh

    @classmethod
    def create(cls, devices: int, backend: str) -> DataParallel:
        if devices is None or devices <= 1:
            return cls(1)
        if backend != "jax":
            raise ConfigError("--devices needs --backend jax")
        import jax
        from jax.sharding import Mesh

        found = jax.devices()
        if len(found) < devices:
            raise ConfigError(
                f"--devices {devices}: JAX sees {len(found)} device(s); on a CPU start "
                f"with XLA_FLAGS={HOST_DEVICES_FLAG}={devices} (pytrnn train does)"
            )
        return cls(devices, Mesh(np.array(found[:devices]), ("data",)))

    @property
    def processes(self) -> int:
        if self.n == 1:
            return 1
        import jax

        return jax.process_count()

    @property
    def process_index(self) -> int:
        if self.n == 1:
            return 0
        import jax

        return jax.process_index()

    def _sharding(self, *spec):
        from jax.sharding import NamedSharding, PartitionSpec

        return NamedSharding(self.mesh, PartitionSpec(*spec))

    def _put(self, array, sharding):
        """A global array from this process's data (all of it on a single host)."""
        import jax

        if jax.process_count() == 1:
            return jax.device_put(array, sharding)
        return jax.make_array_from_process_local_data(sharding, array)

    def replicate(self, params: dict) -> None:
        """Put every shared parameter on every device (bypassing PyTensor's filter,
        which would bring it back to the host)."""
        if self.n == 1:
            return
        rep = self._sharding()
        for v in params.values():
            value = np.asarray(self.fetch(v.get_value(borrow=True)))
            v.container.storage[0] = self._put(value, rep)

    def shard_batch(self, X, Y, w):
        """Split X, Y (K, T, B) over the devices along B; w is replicated."""
        if self.n == 1:
            return X, Y, w
        if X.ndim != 3:
            raise ConfigError(
                f"--devices {self.n} needs --batch B, a multiple of {self.n}"
            )
        return (
            self.shard_streams(X, 2),
            self.shard_streams(Y, 2),
            self._put(w, self._sharding()),
        )

    def shard_streams(self, array, axis: int):
        """Split ``array`` over the devices along its streams' axis, as X and Y are."""
        if self.n == 1:
            return array
        spec = [None] * np.ndim(array)
        spec[axis] = "data"
        return self._put(array, self._sharding(*spec))

    def fetch(self, value):
        """A host numpy copy of a (replicated) array."""
        if hasattr(value, "is_fully_addressable") and not value.is_fully_addressable:
            value = value.addressable_data(0)
        return np.asarray(value)
