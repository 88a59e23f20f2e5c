"""The layer registry: one immutable entry per layer family, refusing silent overwrite."""
from __future__ import annotations

from collections.abc import Iterator

from geo.errors import RegistryError
from layers.spec import LayerSpec


class Registry:
    """Holds LayerSpecs by name. Registration is once per name; lookups name what exists."""

    def __init__(self) -> None:
        self._specs: dict[str, LayerSpec] = {}

    def register(self, spec: LayerSpec) -> LayerSpec:
        if spec.name in self._specs:
            raise RegistryError(f"layer family {spec.name!r} is already registered")
        self._specs[spec.name] = spec
        return spec

    def get(self, name: str) -> LayerSpec:
        try:
            return self._specs[name]
        except KeyError:
            known = ", ".join(sorted(self._specs))
            raise RegistryError(
                f"Không có lớp dữ liệu '{name}' / unknown layer family '{name}'. Known: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[LayerSpec]:
        return iter(self._specs.values())

    def names(self) -> tuple[str, ...]:
        return tuple(self._specs)

    def by_theme(self, theme: int) -> tuple[LayerSpec, ...]:
        return tuple(s for s in self._specs.values() if theme in s.themes)
