"""The dropout-ports command: its parser, exit codes and signals (main), and what each command does."""
