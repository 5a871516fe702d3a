"""behaviorlab: sample-efficient RL experiments on Ray RLlib and Tune."""

__version__ = "0.1.0"
