"""Behaviour cloning (maximum likelihood on expert (s, a) pairs) as a platform algorithm: trains
from a trajectory dataset and is measured in the env on the true reward."""
