"""GAIL (Ho & Ermon 2016): a discriminator tells expert from policy (s, a) pairs, and a PPO
generator maximises −log D(s, a) plus entropy; see README.md."""
