"""Registries: name -> class tables with clear errors."""

from __future__ import annotations

import pytest

from pairsim import HEADS, LOSSES, TOWERS
from pairsim.errors import ConfigError, PairsimError
from pairsim.registry import Registry


def test_register_get_and_list() -> None:
    animals: Registry[type] = Registry("animal")

    @animals.register("dog")
    class Dog: ...

    @animals.register("cat")
    class Cat: ...

    assert animals.get("cat") is Cat and animals.get("dog") is Dog
    assert Cat.registered_name == "cat" and Dog.registered_name == "dog"
    assert animals.names() == ["cat", "dog"]  # sorted
    assert list(animals) == ["cat", "dog"]
    assert "cat" in animals and "cow" not in animals and 3 not in animals
    assert repr(animals) == "Registry('animal', ['cat', 'dog'])"


def test_duplicate_registration_raises_and_keeps_the_first() -> None:
    animals: Registry[type] = Registry("animal")

    @animals.register("cat")
    class Cat: ...

    with pytest.raises(ValueError, match="animal 'cat' is registered twice"):

        @animals.register("cat")
        class OtherCat: ...

    assert animals.get("cat") is Cat
    assert animals.names() == ["cat"]


def test_unknown_name_lists_valid_names() -> None:
    animals: Registry[type] = Registry("animal")
    animals.register("dog")(type("Dog", (), {}))
    animals.register("cat")(type("Cat", (), {}))
    with pytest.raises(ConfigError) as info:
        animals.get("cow")
    assert str(info.value) == "unknown animal 'cow'; valid animals: cat, dog"
    assert isinstance(info.value, PairsimError)


@pytest.mark.parametrize(
    ("registry", "names"),
    [
        (TOWERS, ["cnn", "lstm", "mlp", "timm", "torchvision", "transformer"]),
        (HEADS, ["cosine", "euclidean", "exp", "weighted_l1"]),
        (LOSSES, ["bce", "contrastive", "infonce", "ranking", "triplet"]),
    ],
)
def test_builtin_components_are_registered(registry, names) -> None:
    assert set(names) <= set(registry.names())
    for name in registry.names():
        component = registry.get(name)
        assert component.registered_name == name
        assert component.Config(name=name).name == name  # every component has a config with its name


def test_registering_on_a_builtin_registry_twice_raises() -> None:
    with pytest.raises(ValueError, match="tower 'lstm' is registered twice"):
        TOWERS.register("lstm")(type("Fake", (), {}))
    assert TOWERS.get("lstm").__name__ == "LSTMTower"
