"""Training of the reward models: the loop, its losses, the ORM's value head, step-tag PRM training, Monte-Carlo
step labels, FLOPs accounting."""
