"""The synthetic audio-visual world: clips with exact ground truth, tasks, and datasets on disk.

Built in ``notebooks/01_av_world.ipynb``; tested in ``tests/test_world*.py`` and ``tests/test_tasks.py``.
"""
from .clip import Clip, Event
from .config import ConfigError, WorldConfig
from .formats import World, WorldFormatError, generate_world, load_world
from .scene import make_clip
from .tasks import KINDS, Task, make_task, make_tasks

__all__ = ["Clip", "Event", "ConfigError", "WorldConfig", "World", "WorldFormatError",
           "generate_world", "load_world", "make_clip", "KINDS", "Task", "make_task", "make_tasks"]
