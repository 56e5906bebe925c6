"""The synthetic audio-visual world: clips with exact ground truth, tasks, and datasets on disk.

The bottom layer of the package (it imports nothing of it but ``errors``).
Built in ``notebooks/01_av_world.ipynb``; tested in ``tests/test_world*.py`` and ``tests/test_tasks.py``.
"""
from .clip import Clip, Event
from .config import WorldConfig
from .formats import World, WorldFormatError, generate_world, load_world
from .scene import make_clip
from .slices import Slice, SlicePlan, SlicePlanError, n_slices, slice_times, slices
from .tasks import KINDS, Task, make_task, make_tasks

__all__ = ["Clip", "Event", "WorldConfig", "World", "WorldFormatError",
           "generate_world", "load_world", "make_clip", "Slice", "SlicePlan", "SlicePlanError", "n_slices", "slice_times", "slices", "KINDS", "Task", "make_task", "make_tasks"]
