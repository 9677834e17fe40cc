"""A no-op step of the engine benchmark: it does nothing (the step's time is the engine's)."""
