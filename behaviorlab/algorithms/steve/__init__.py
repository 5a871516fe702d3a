"""STEVE (Buckman et al. 2018): stochastic ensemble value expansion on a DDPG-style actor, with
ensembles of Q functions and of learned transition, termination and reward models."""
