"""LBC (Fan et al. 2023): pure hybrid behaviour mapping (`mapping`) and bandit meta-controller (`meta_controller`)."""
