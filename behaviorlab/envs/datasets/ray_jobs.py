"""What the datasets' Ray Data jobs share: starting Ray for them and keeping Ray Data quiet.

The jobs run on the local machine the same way as on a cluster: `start_ray` connects to a running
Ray (or, under `ray job submit`, the job's cluster) and starts a local one otherwise. On a cluster,
the files a job reads or writes must be on storage every node sees.
"""

from __future__ import annotations

import logging


def start_ray() -> bool:
    """Start (or, under `ray job submit`, connect to) Ray unless it is running; True if started here."""
    import ray

    if ray.is_initialized():
        return False
    ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    return True


def quiet_ray_data() -> None:
    """The jobs print their own progress lines; Ray Data's bars and execution notices would bury
    them. Call after importing ray.data (the import configures its loggers)."""
    import ray.data

    logging.getLogger("ray.data").setLevel(logging.ERROR)
    ray.data.DataContext.get_current().enable_progress_bars = False
