"""Where the day's papers come from: one module per kind of source."""
