"""SV-RL (Yang, Zhang, Xu, Katabi; ICLR 2020): DQN whose targets read a matrix-estimated copy of the
target network's next-state Q matrix (a random share of it hidden and filled back each update)."""
