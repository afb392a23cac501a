"""Value: the frozen dataclass, made by hand, for the small classes a login on a cached token builds.

Such a login has little work to do: importing `dataclasses` (it loads inspect, and with it ast, dis and
tokenize) and generating each dataclass's methods would be most of it (BENCHMARKS.md has the figures).
These classes (the settings, image references, tokens and their cache keys) derive from Value instead.
"""

from __future__ import annotations

# Not typing.TYPE_CHECKING: a cached login does without importing typing. mypy takes any constant of this
# name as true, so the names below still count for it; at run time nothing is imported.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from typing_extensions import Self


class Value:
    """A value whose fields are its __slots__, as a frozen dataclass's are its annotations.

    The subclass's __init__ sets each field once; after that none can be set or deleted. Two values are
    equal when they are of the same class and their fields are (but those in _UNCOMPARED), and hash
    alike then; repr shows every field. `replace` makes a changed copy, as dataclasses.replace does.
    A subclass's fields are its own __slots__ after those of the classes it derives from.
    """

    __slots__: tuple[str, ...] = ()
    _UNCOMPARED: tuple[str, ...] = ()  # a dataclass's field(compare=False)
    _FIELDS: tuple[str, ...] = ()  # every class's __slots__ along the MRO, base classes first
    _COMPARED: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # without __slots__ of its own a class keeps its fields in a __dict__ that nothing here looks at:
        # every instance would equal every other
        if "__slots__" not in cls.__dict__:
            raise TypeError(f"{cls.__qualname__} derives from Value and must define __slots__ (its fields)")
        cls._FIELDS = tuple(name for klass in reversed(cls.__mro__) for name in klass.__dict__.get("__slots__", ()))
        cls._COMPARED = tuple(name for name in cls._FIELDS if name not in cls._UNCOMPARED)

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, name):  # set already (or a property): a frozen dataclass refuses it too
            raise AttributeError(f"cannot assign to field {name!r}")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def _compared(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._COMPARED)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__ or not isinstance(other, Value):
            return NotImplemented
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash(self._compared())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._FIELDS)
        return f"{self.__class__.__qualname__}({fields})"

    def replace(self, **changes: Any) -> Self:
        """A copy with CHANGES to some fields; a TypeError names one that is not a field."""
        fields = {name: getattr(self, name) for name in self._FIELDS}
        return self.__class__(**{**fields, **changes})
