"""ACER (Wang et al. 2017): off-policy actor-critic with Retrace, truncated importance sampling
with bias correction and an efficient trust region; discrete and continuous actions."""
