"""FHIRPath Patch: https://hl7.org/fhir/R4/fhirpatch.html.

A ``Parameters`` resource with one ``operation`` parameter per change, applied
in order: ``add`` (``name`` with ``value`` into the element at ``path``; a
list grows, a single element must not exist yet), ``insert`` (``value`` at
``index`` of the list at ``path``), ``delete`` (the one element at ``path``;
nothing matched is no error), ``replace`` (the one element at ``path``) and
``move`` (within the list at ``path``, from ``source`` to ``destination``).

Paths are evaluated by fhirpathpy (all of FHIRPath it implements, R4 model);
each result is then located in the JSON by the path fhirpathpy reports
(:mod:`.locate`). A path must select elements of the resource, not computed
values. A ``value`` is a ``value[x]`` (its type picks the JSON property of a
choice element) or, for a backbone element, nested ``part``s named after its
children. Changing a list of primitives keeps their ``_name`` extension list
in step.
"""

from __future__ import annotations

import copy
import decimal
from dataclasses import dataclass
from typing import Any

from fhirpathpy import evaluate
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

from firehouse.errors import FhirError, invalid
from firehouse.fhir import definitions
from firehouse.fhir.definitions import ElementDefinition, TypeDefinition
from firehouse.fhir.json import JsonDecimal
from firehouse.fhir.patch.locate import (
    Slot,
    json_key,
    locate,
    resource_definition,
    unprocessable,
    value_type,
)

TYPES = frozenset({"add", "insert", "delete", "replace", "move"})
_PARTS = {"type", "path", "name", "value", "index", "source", "destination"}
_REQUIRED = {
    "add": ("path", "name", "value"),
    "insert": ("path", "value", "index"),
    "delete": ("path",),
    "replace": ("path", "value"),
    "move": ("path", "source", "destination"),
}


@dataclass(frozen=True, slots=True)
class Operation:
    where: str  # Parameters.parameter[n], for messages
    type: str
    path: str
    name: str | None = None
    value: dict[str, Any] | None = None  # the ``value`` part as sent
    index: int | None = None
    source: int | None = None
    destination: int | None = None


def _part_value(part: dict[str, Any], where: str) -> Any:
    for key, value in part.items():
        if key.startswith("value") and key != "value":
            return value
    raise invalid(f"The '{part.get('name')}' part has no value", where)


def _operation(position: int, parameter: Any) -> Operation:
    where = f"Parameters.parameter[{position}]"
    if not isinstance(parameter, dict) or parameter.get("name") != "operation":
        raise invalid("Each parameter of a FHIRPath Patch is named 'operation'", where)
    parts = parameter.get("part")
    if not isinstance(parts, list):
        raise invalid("The operation has no parts (type, path, ...)", where)
    found: dict[str, Any] = {}
    for number, part in enumerate(parts):
        name = part.get("name") if isinstance(part, dict) else None
        if name not in _PARTS or name in found:
            raise invalid(f"Unexpected or repeated part {name!r}", f"{where}.part[{number}]")
        assert isinstance(part, dict)
        found[name] = part if name == "value" else _part_value(part, f"{where}.part[{number}]")
    kind = found.get("type")
    if kind not in TYPES:
        raise invalid(f"Operation type {kind!r} is not one of {', '.join(sorted(TYPES))}", where)
    missing = [name for name in _REQUIRED[kind] if name not in found]
    if missing:
        raise invalid(f"A {kind} operation needs {', '.join(missing)}", where)
    for name in ("path", "name"):
        if name in found and not isinstance(found[name], str):
            raise invalid(f"The {name} part must be a string", where)
    for name in ("index", "source", "destination"):
        value = found.get(name)
        if value is not None and (not isinstance(value, int) or value < 0):
            raise invalid(f"The {name} part must be a whole number", where)
    return Operation(
        where,
        kind,
        found["path"],
        found.get("name"),
        found.get("value"),
        found.get("index"),
        found.get("source"),
        found.get("destination"),
    )


def parse(parameters: Any) -> list[Operation]:
    """The operations of a FHIRPath Patch ``Parameters``; raises ``invalid`` naming the part."""
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise invalid("A FHIRPath Patch is a Parameters resource")
    given = parameters.get("parameter")
    if not isinstance(given, list) or not given:
        raise invalid("The FHIRPath Patch has no operations", "Parameters.parameter")
    return [_operation(position, parameter) for position, parameter in enumerate(given)]


# -- evaluating paths --------------------------------------------------------------------


def _for_fhirpath(value: Any) -> Any:
    # fhirpathpy compares numbers as Decimal; our lossless JsonDecimal is opaque to it.
    if isinstance(value, dict):
        return {k: _for_fhirpath(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_for_fhirpath(v) for v in value]
    if isinstance(value, JsonDecimal):
        return decimal.Decimal(value.text)
    return value


def _select(resource: dict[str, Any], op: Operation) -> list[str | None]:
    """Where each result of ``op.path`` was reached (None: the resource itself)."""
    try:
        nodes = evaluate(
            _for_fhirpath(resource), op.path, {}, models["r4"], {"returnRawData": True}
        )
    except Exception as exc:  # fhirpathpy raises bare Exceptions for bad expressions
        raise invalid(f"Path '{op.path[:200]}' cannot be evaluated: {exc}", op.where) from exc
    places: list[str | None] = []
    for node in nodes:
        if not isinstance(node, ResourceNode):
            raise unprocessable(f"Path '{op.path[:200]}' selects a computed value", op.where)
        places.append(node.propName)
    return places


def _one(resource: dict[str, Any], op: Operation) -> str | None:
    places = _select(resource, op)
    if len(places) != 1:
        raise unprocessable(
            f"Path '{op.path[:200]}' matches {len(places)} elements; {op.type} needs exactly one",
            op.where,
        )
    return places[0]


def _list_at(resource: dict[str, Any], op: Operation, *, create: bool) -> Slot:
    """The list ``op.path`` names, as the slot holding it (``index`` None)."""
    places = _select(resource, op)
    slots = [locate(resource, place) for place in places if place is not None]
    if slots:
        first = slots[0]
        if len(slots) != len(places) or any(
            s.index is None or s.container is not first.container or s.key != first.key
            for s in slots
        ):
            raise unprocessable(f"Path '{op.path[:200]}' is not one list", op.where)
        return Slot(first.container, first.key, None, first.owner, first.element)
    # An empty list is absent from the JSON: find its parent and name instead.
    parent_path, _, name = op.path.rpartition(".")
    element = None
    if create and parent_path and name.isidentifier():
        parent = _one(resource, Operation(op.where, op.type, parent_path))
        container = resource if parent is None else locate(resource, parent).value
        owner = _type_of(resource, parent)
        element = owner.elements.get(name) if owner is not None else None
        if element is not None and element.repeats and isinstance(container, dict):
            return Slot(container, name, None, owner, element)
    raise unprocessable(f"Path '{op.path[:200]}' matches no list", op.where)


def _type_of(resource: dict[str, Any], place: str | None) -> TypeDefinition | None:
    if place is None:
        return resource_definition(resource)
    slot = locate(resource, place)
    prop = slot.owner.properties.get(slot.key) if slot.owner is not None else None
    return value_type(prop, slot.value)


# -- building values ---------------------------------------------------------------------


def _element_type(element: ElementDefinition | None) -> TypeDefinition | None:
    if element is None:
        return None
    if element.backbone is not None:
        return element.backbone
    if len(element.types) == 1:
        try:
            return definitions.type_definition(element.types[0])
        except KeyError:
            return None
    return None


def _value(part: dict[str, Any], element: ElementDefinition | None, where: str) -> tuple[Any, str]:
    """(JSON value, type suffix of its ``value[x]``; "" for resources and parts)."""
    for key, value in part.items():
        if key.startswith("value") and key != "value" and key[5:6].isupper():
            return copy.deepcopy(value), key[5:]
    if isinstance(part.get("resource"), dict):
        return copy.deepcopy(part["resource"]), ""
    children = part.get("part")
    if not isinstance(children, list) or not children:
        raise invalid("The value part has no value[x], resource or parts", where)
    owner = _element_type(element)
    built: dict[str, Any] = {}
    for child in children:
        name = child.get("name") if isinstance(child, dict) else None
        if not isinstance(name, str):
            raise invalid("Each part of a value names its element", where)
        assert isinstance(child, dict)
        sub = owner.elements.get(name) if owner is not None else None
        value, suffix = _value(child, sub, where)
        key = name + suffix if sub is not None and sub.choice else name
        if sub is not None and sub.repeats:
            built.setdefault(key, []).append(value)
        elif key in built:
            raise invalid(f"Element '{name}' is given twice in the value", where)
        else:
            built[key] = value
    return built, ""


def _choice_key(owner: TypeDefinition | None, element: ElementDefinition, suffix: str) -> str:
    key = element.name + suffix
    if owner is not None and key not in owner.properties:
        raise unprocessable(f"{element.name}[x] cannot hold a {suffix or 'value of that kind'}")
    return key


# -- changing lists (with their _name primitive extensions) ------------------------------


def _shadow(slot: Slot) -> list[Any] | None:
    shadow = slot.container.get("_" + slot.key)
    return shadow if isinstance(shadow, list) else None


def _tidy(container: dict[str, Any], key: str) -> None:
    # FHIR JSON has no empty arrays, and no extension list without an extension.
    if container.get(key) == []:
        del container[key]
    shadow = container.get("_" + key)
    if isinstance(shadow, list) and all(item is None for item in shadow):
        del container["_" + key]


def _remove(slot: Slot) -> None:
    if slot.index is None:
        del slot.container[slot.key]
        slot.container.pop("_" + slot.key, None)
        return
    slot.container[slot.key].pop(slot.index)
    shadow = _shadow(slot)
    if shadow is not None and slot.index < len(shadow):
        shadow.pop(slot.index)
    _tidy(slot.container, slot.key)


def _insert(slot: Slot, index: int, value: Any) -> None:
    items = slot.container.setdefault(slot.key, [])
    if not isinstance(items, list) or index > len(items):
        raise unprocessable(f"Index {index} is past the end of the list ({len(items)} items)")
    items.insert(index, value)
    shadow = _shadow(slot)
    if shadow is not None:
        shadow.insert(index, None)


# -- the operations ----------------------------------------------------------------------


def _add(resource: dict[str, Any], op: Operation) -> None:
    place = _one(resource, op)
    container = resource if place is None else locate(resource, place).value
    if not isinstance(container, dict):
        raise unprocessable(f"'{op.path[:200]}' is a primitive; nothing can be added to it")
    owner = _type_of(resource, place)
    assert op.name is not None and op.value is not None
    element = owner.elements.get(op.name) if owner is not None else None
    if owner is not None and element is None:
        raise unprocessable(f"{owner.name} has no element '{op.name[:80]}'", op.where)
    value, suffix = _value(op.value, element, op.where)
    key = _choice_key(owner, element, suffix) if element and element.choice else op.name
    if element is not None and element.repeats:
        slot = Slot(container, key, None, owner, element)
        _insert(slot, len(container.get(key, [])), value)
    elif json_key(container, owner, op.name) is not None:
        raise unprocessable(f"'{op.name}' already has a value; use replace", op.where)
    else:
        container[key] = value


def _replace(resource: dict[str, Any], op: Operation) -> None:
    place = _one(resource, op)
    if place is None:
        raise unprocessable("The resource itself cannot be replaced; use PUT", op.where)
    slot = locate(resource, place)
    assert op.value is not None
    value, suffix = _value(op.value, slot.element, op.where)
    if slot.index is not None:
        slot.container[slot.key][slot.index] = value
        return
    key = slot.key
    if slot.element is not None and slot.element.choice and suffix:
        key = _choice_key(slot.owner, slot.element, suffix)
    # Rebuilt in place so the element keeps its position in the client's order.
    items = [
        (key if k == slot.key else k, value if k == slot.key else v)
        for k, v in slot.container.items()
    ]
    slot.container.clear()
    slot.container.update(items)


def _delete(resource: dict[str, Any], op: Operation) -> None:
    places = _select(resource, op)
    if not places:
        return  # deleting what is not there changes nothing (fhirpatch.html)
    if len(places) > 1 or places[0] is None:
        raise unprocessable(
            f"Path '{op.path[:200]}' matches {len(places)} elements; delete removes one", op.where
        )
    _remove(locate(resource, places[0]))


def _insert_op(resource: dict[str, Any], op: Operation) -> None:
    slot = _list_at(resource, op, create=True)
    assert op.value is not None and op.index is not None
    value, _ = _value(op.value, slot.element, op.where)
    _insert(slot, op.index, value)


def _move(resource: dict[str, Any], op: Operation) -> None:
    slot = _list_at(resource, op, create=False)
    items = slot.container[slot.key]
    assert op.source is not None and op.destination is not None
    if op.source >= len(items) or op.destination >= len(items):
        raise unprocessable(f"The list at '{op.path[:200]}' has {len(items)} items", op.where)
    items.insert(op.destination, items.pop(op.source))
    shadow = _shadow(slot)
    if shadow is not None and op.source < len(shadow):
        shadow.insert(min(op.destination, len(shadow)), shadow.pop(op.source))


_APPLY = {
    "add": _add,
    "insert": _insert_op,
    "delete": _delete,
    "replace": _replace,
    "move": _move,
}


def apply(resource: dict[str, Any], operations: list[Operation]) -> dict[str, Any]:
    """The patched copy of ``resource``; ``resource`` itself is left as it was."""
    patched = copy.deepcopy(resource)
    for op in operations:
        try:
            _APPLY[op.type](patched, op)
        except FhirError as exc:
            if any(issue.expression for issue in exc.issues):
                raise
            raise FhirError(exc.category, [i.at(op.where) for i in exc.issues]) from exc
    return patched
