"""Running trainings: the run engine and its executors (local workers, Ray), compare's results
folder, what a run probes after each epoch, and the machine's description and yardsticks."""
