"""`retention run`: the long-running reconciler (schedules, reload, health, metrics)."""
