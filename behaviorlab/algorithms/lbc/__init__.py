"""LBC (Fan et al. 2023): a population of ACER actor-critics acting through a hybrid behaviour
μ_ψ (`mapping`) whose ψ a bandit meta-controller (`meta_controller`) picks per episode."""
