"""PTGM (Yuan et al., ICLR 2024): pre-trained goal-conditioned low-level policy, goal codebook and
goal prior; high-level PPO over goal codes regularised towards the prior. See README.md."""
