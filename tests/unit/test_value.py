"""Value behaves as the frozen dataclasses it replaces: set once, compared and hashed by its fields."""

from __future__ import annotations

import pytest

from ecrtool.model.auth import AuthToken
from ecrtool.model.refs import RepoRef
from ecrtool.model.settings import Settings
from ecrtool.model.value import Value


def test_a_field_cannot_be_changed_or_deleted() -> None:
    ref = RepoRef("trees", tag="v1")
    with pytest.raises(AttributeError):
        ref.tag = "v2"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del ref.repository
    assert ref.tag == "v1"


def test_equal_fields_make_equal_values_with_equal_hashes() -> None:
    assert RepoRef("trees", tag="v1") == RepoRef("trees", tag="v1")
    assert hash(RepoRef("trees", tag="v1")) == hash(RepoRef("trees", tag="v1"))
    assert RepoRef("trees", tag="v1") != RepoRef("trees", tag="v2")
    assert len({RepoRef("trees"), RepoRef("trees"), RepoRef("bushes")}) == 2


def test_a_value_never_equals_another_class_with_the_same_fields() -> None:
    assert RepoRef("trees") != ("trees", None, None, None, None, None, False)
    assert Settings() != RepoRef("trees")


def test_where_settings_came_from_is_not_part_of_their_value() -> None:
    assert Settings(region="ca-west-1", sources={"region": "--region"}) == Settings(
        region="ca-west-1", sources={"region": "ECRTOOL_REGION"}
    )


def test_replace_changes_a_copy_and_refuses_unknown_fields() -> None:
    ref = RepoRef("trees", tag="v1")
    assert ref.replace(tag="v2") == RepoRef("trees", tag="v2")
    assert ref.tag == "v1"
    with pytest.raises(TypeError):
        ref.replace(colour="green")


def test_repr_shows_the_fields_but_a_token_hides_its_password() -> None:
    assert repr(RepoRef("trees", tag="v1")).startswith("RepoRef(repository='trees', tag='v1'")
    token = AuthToken("AWS", "s3cret", None, None)
    assert "s3cret" not in repr(token) and "AWS" in repr(token)


class Point(Value):
    __slots__ = ("x", "y")
    x: int
    y: int

    def __init__(self, x: int, y: int) -> None:
        self.x = x
        self.y = y


class LabelledPoint(Point):
    __slots__ = ("label",)
    label: str

    def __init__(self, x: int, y: int, label: str) -> None:
        super().__init__(x, y)
        self.label = label


def test_a_subclass_without_its_own_slots_is_refused() -> None:
    # it would have no fields of its own to compare: every instance would equal every other
    with pytest.raises(TypeError, match="Loose"):

        class Loose(Value):
            def __init__(self, name: str) -> None:
                self.name = name

    with pytest.raises(TypeError, match="LoosePoint"):

        class LoosePoint(Point):
            def __init__(self, x: int, y: int, label: str) -> None:
                super().__init__(x, y)
                self.label = label


def test_a_subclass_of_a_value_has_its_parents_fields_too() -> None:
    assert LabelledPoint(1, 2, "a") != LabelledPoint(3, 4, "a")
    assert LabelledPoint(1, 2, "a") != LabelledPoint(1, 2, "b")
    assert LabelledPoint(1, 2, "a") == LabelledPoint(1, 2, "a")
    assert hash(LabelledPoint(1, 2, "a")) == hash(LabelledPoint(1, 2, "a"))
    assert LabelledPoint(1, 2, "a") != Point(1, 2)
    assert repr(LabelledPoint(1, 2, "a")) == "LabelledPoint(x=1, y=2, label='a')"
    assert LabelledPoint(1, 2, "a").replace(y=5) == LabelledPoint(1, 2, "a").replace(y=5, label="a")
    assert LabelledPoint(1, 2, "a").replace(y=5).y == 5
