"""The benchmark scripts: dropout op, epochs, data loading, executors, lockstep, peers, and the
speed targets they are held to; each prints figures and ratios measured in one run."""
