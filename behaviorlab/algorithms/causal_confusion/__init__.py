"""Causal confusion in imitation learning (de Haan, Jayaraman & Levine, NeurIPS 2019): the
graph-parameterised policy (graph_policy.py), targeted intervention (intervention.py) and the
MountainCar study that runs them (study.py; `python -m behaviorlab.algorithms.causal_confusion`)."""
