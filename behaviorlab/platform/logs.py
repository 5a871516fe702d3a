"""Logging set-up shared by the CLI process and Ray worker processes."""

import logging
import warnings

# Loggers whose INFO/WARNING chatter (new-API-stack notices, deprecations) buries the progress lines.
_NOISY = ("ray.rllib", "ray.tune", "ray.train", "ray.air", "ray.data", "gymnasium", "wandb")


def quiet_worker() -> None:
    """Ray `worker_process_setup_hook`: keep errors, drop routine warnings."""
    import ray  # noqa: F401  (its import re-configures logging; levels must be set after it)

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.ERROR)
