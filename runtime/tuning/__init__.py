"""Autotuning's runtime half: the timing cache on disk (`cache.py`) and the GPU timer of one
compiled kernel (`timer.py`). Which candidates exist and which one wins is the compiler's
business (`compiler/autotune.py`); nothing here knows about IR or passes."""

from runtime.tuning.cache import DeviceKey, Failed, TimingCache, default_path

__all__ = ["DeviceKey", "Failed", "TimingCache", "default_path"]
