"""The walk of a resource's JSON against the compiled element tables.

Rules, in the words of the spec:

- https://hl7.org/fhir/R4/json.html: objects hold only the elements their type
  defines; an element with max > 1 is an array, any other is not; null, empty
  strings, empty objects and empty arrays are not allowed, except null as a
  place holder in the parallel arrays of a repeating primitive and its
  ``_name`` twin (https://hl7.org/fhir/R4/json.html#primitive);
- https://hl7.org/fhir/R4/formats.html#choice: a choice element ``value[x]``
  appears once, as ``value`` + the name of one of its allowed types;
- https://hl7.org/fhir/R4/conformance-rules.html#cardinality: min and max;
- https://hl7.org/fhir/R4/extensibility.html#extension: an extension has a url
  and either a value or nested extensions (ext-1);
- https://hl7.org/fhir/R4/references.html#contained: a contained resource has
  no contained resources (dom-2) and no meta.versionId, meta.lastUpdated
  (dom-4) or meta.security (dom-5).

Locations are FHIRPath from the resource type (``Patient.name[0].given[1]``);
a primitive's ``_name`` object is reported where its value is
(``Patient.birthDate.extension[0]``). Paths are only built on the way down to
objects, and for primitives only when something is wrong: this runs on every
write.
"""

from __future__ import annotations

from firehouse.errors import Issue
from firehouse.fhir.definitions import Property, TypeDefinition, structure
from firehouse.fhir.validation.primitives import Problem, check_primitive, describe

# https://hl7.org/fhir/R4/valueset-issue-type.html
STRUCTURE = "structure"
REQUIRED = "required"
VALUE = "value"

_MISSING = object()


def _issue(issues: list[Issue], code: str, message: str, location: str) -> None:
    issues.append(Issue(message, code, expression=(location,)))


def check_resource(
    value: object, path: str | None, issues: list[Issue], *, contained: bool
) -> None:
    """A resource: a JSON object naming a known ``resourceType``, then its elements.

    ``path`` is where the resource sits (``Bundle.entry[2].resource``), or None
    for a resource on its own, whose elements are located from its type.
    """
    where = f" at {path}" if path else ""
    if not isinstance(value, dict):
        message = f"A resource must be a JSON object, not {describe(value)}{where}"
        issues.append(Issue(message, STRUCTURE, expression=(path,) if path else ()))
        return
    type_path = f"{path}.resourceType" if path else "resourceType"
    resource_type = value.get("resourceType", _MISSING)
    if resource_type is _MISSING:
        _issue(issues, REQUIRED, f"Missing resourceType{where}", type_path)
        return
    if not isinstance(resource_type, str):
        message = f"resourceType must be a string, not {describe(resource_type)}{where}"
        _issue(issues, STRUCTURE, message, type_path)
        return
    table = structure().types.get(resource_type)
    if table is None or table.kind != "resource":
        _issue(issues, VALUE, f"Unknown resource type {resource_type!r}{where}", type_path)
        return
    root = path or resource_type
    check_object(value, table, root, issues)
    if contained:
        _check_contained(value, root, issues)


def check_object(
    obj: dict[object, object], table: TypeDefinition, path: str, issues: list[Issue]
) -> None:
    """An object of a resource, complex type or backbone element, at ``path``."""
    if not obj:
        _issue(issues, STRUCTURE, f"Empty object at {path}; leave the element out instead", path)
        return
    properties = table.properties
    # element name -> the JSON property that gave it, to see choices given twice
    # and required elements left out.
    present: dict[str, str] = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            _issue(issues, STRUCTURE, f"Unknown element {key!r} at {path}", path)
            continue
        if key.startswith("_"):
            name = key[1:]
            prop = properties.get(name)
            if prop is None or prop.primitive is None:
                _unknown(table, key, path, issues)
            elif name not in obj:  # else checked together with its value
                _mark(present, prop, name, path, issues)
                _check_primitive_element(_MISSING, value, prop, path, name, issues)
            continue
        prop = properties.get(key)
        if prop is None:
            if key != "resourceType" or table.kind != "resource":
                _unknown(table, key, path, issues)
            continue
        _mark(present, prop, key, path, issues)
        if prop.primitive is not None:
            _check_primitive_element(value, obj.get("_" + key, _MISSING), prop, path, key, issues)
        elif prop.element.max is None or prop.element.max > 1:
            if not isinstance(value, list):
                message = f"Expected an array at {path}.{key}, got {describe(value)}"
                _issue(issues, STRUCTURE, message, f"{path}.{key}")
            elif not value:
                _empty_array(path, key, issues)
            else:
                for index, item in enumerate(value):
                    _check_complex(item, prop, f"{path}.{key}[{index}]", issues)
                _check_max(len(value), prop, path, key, issues)
        elif isinstance(value, list):
            _not_an_array(path, key, issues)
        else:
            _check_complex(value, prop, f"{path}.{key}", issues)
    for element in table.required:
        if element.name not in present:
            name = element.name + "[x]" if element.choice else element.name
            message = f"Missing required element '{name}' at {path}.{element.name}"
            _issue(issues, REQUIRED, message, f"{path}.{element.name}")
    if table.code == "Extension" and ("value" in present) == ("extension" in present):
        which = "both" if "value" in present else "neither"
        message = (
            f"An extension must have either a value or nested extensions (ext-1), "
            f"but the one at {path} has {which}"
        )
        _issue(issues, STRUCTURE, message, path)


def _mark(
    present: dict[str, str], prop: Property, key: str, path: str, issues: list[Issue]
) -> None:
    element = prop.element
    first = present.setdefault(element.name, key)
    if first != key:
        message = f"Both {first} and {key} at {path}: {element.name}[x] takes only one type"
        _issue(issues, STRUCTURE, message, f"{path}.{element.name}")
    if element.max == 0:  # SimpleQuantity.comparator
        message = f"Element '{key}' is not allowed here (max 0) at {path}.{key}"
        _issue(issues, STRUCTURE, message, f"{path}.{key}")


def _unknown(table: TypeDefinition, key: str, path: str, issues: list[Issue]) -> None:
    # valueFoo next to value[x] is more likely a type that is not allowed than
    # a made-up name; say which types are.
    for element in table.elements.values():
        suffix = key[len(element.name) :]
        if element.choice and key.startswith(element.name) and suffix[:1].isupper():
            allowed = ", ".join(k for k, p in table.properties.items() if p.element is element)
            message = (
                f"Type '{suffix}' is not allowed for {element.name}[x] at {path}.{key}; "
                f"allowed: {allowed}"
            )
            _issue(issues, STRUCTURE, message, f"{path}.{key}")
            return
    _issue(issues, STRUCTURE, f"Unknown element '{key}' at {path}.{key}", f"{path}.{key}")


def _check_complex(value: object, prop: Property, location: str, issues: list[Issue]) -> None:
    if value is None:
        _null(location, issues)
    elif prop.complex is None:  # a nested resource
        check_resource(value, location, issues, contained=prop.element.name == "contained")
    elif not isinstance(value, dict):
        message = f"Expected an object ({prop.type}) at {location}, got {describe(value)}"
        _issue(issues, STRUCTURE, message, location)
    else:
        check_object(value, prop.complex, location, issues)


def _check_primitive_element(
    value: object, twin: object, prop: Property, path: str, key: str, issues: list[Issue]
) -> None:
    """A primitive and its ``_key`` twin (id and extensions); either may be missing."""
    primitive = prop.primitive
    assert primitive is not None
    element = prop.element
    location = f"{path}.{key}"
    if twin is not _MISSING and primitive.name == "xhtml":
        message = f"Narrative xhtml cannot have extensions: '_{key}' at {location}"
        _issue(issues, STRUCTURE, message, location)
        twin = _MISSING
    if not (element.max is None or element.max > 1):
        if isinstance(value, list) or isinstance(twin, list):
            _not_an_array(path, key if isinstance(value, list) else "_" + key, issues)
            return
        if value is None:
            _null(location, issues)
        elif value is not _MISSING:
            problem = check_primitive(value, primitive)
            if problem is not None:
                _problem(problem, location, issues)
        if twin is not _MISSING:
            _check_twin(twin, key, location, issues)
        return
    values = _as_array(value, path, key, issues)
    twins = _as_array(twin, path, "_" + key, issues)
    if values is None or twins is None:
        return
    if values and twins and len(values) != len(twins):
        message = (
            f"'_{key}' has {len(twins)} items but '{key}' has {len(values)} at {location}; "
            "they must be parallel arrays"
        )
        _issue(issues, STRUCTURE, message, location)
        twins = []
    for index in range(max(len(values), len(twins))):
        item = values[index] if values else None
        extra = twins[index] if twins else None
        item_location = f"{location}[{index}]"
        if item is None:
            if extra is None:
                _null(item_location, issues)
        else:
            problem = check_primitive(item, primitive)
            if problem is not None:
                _problem(problem, item_location, issues)
        if extra is not None:
            _check_twin(extra, key, item_location, issues)
    _check_max(max(len(values), len(twins)), prop, path, key, issues)


def _as_array(value: object, path: str, key: str, issues: list[Issue]) -> list[object] | None:
    """The items of a repeating primitive (or its twin); [] if absent, None if unusable."""
    if value is _MISSING:
        return []
    if not isinstance(value, list):
        message = f"Expected an array at {path}.{key}, got {describe(value)}"
        _issue(issues, STRUCTURE, message, f"{path}.{key.lstrip('_')}")
        return None
    if not value:
        _empty_array(path, key, issues)
        return None
    return value


def _check_twin(twin: object, key: str, location: str, issues: list[Issue]) -> None:
    """The ``_key`` object of one primitive value: an Element (id, extension)."""
    if twin is None:
        _null(location, issues)
    elif not isinstance(twin, dict):
        message = (
            f"'_{key}' must be an object with id or extension at {location}, got {describe(twin)}"
        )
        _issue(issues, STRUCTURE, message, location)
    else:
        check_object(twin, structure().types["Element"], location, issues)


def _check_contained(resource: dict[object, object], path: str, issues: list[Issue]) -> None:
    if "contained" in resource:
        message = f"A contained resource cannot contain resources (dom-2) at {path}.contained"
        _issue(issues, STRUCTURE, message, f"{path}.contained")
    meta = resource.get("meta")
    if isinstance(meta, dict):
        for key, rule in (("versionId", "dom-4"), ("lastUpdated", "dom-4"), ("security", "dom-5")):
            if key in meta:
                message = (
                    f"A contained resource cannot have meta.{key} ({rule}) at {path}.meta.{key}"
                )
                _issue(issues, STRUCTURE, message, f"{path}.meta.{key}")


def _problem(problem: Problem, location: str, issues: list[Issue]) -> None:
    code, head, tail = problem
    _issue(issues, code, f"{head} at {location}{tail}", location)


def _check_max(count: int, prop: Property, path: str, key: str, issues: list[Issue]) -> None:
    limit = prop.element.max
    if limit is not None and count > limit:
        message = f"Too many items at {path}.{key}: {count}, at most {limit} allowed"
        _issue(issues, STRUCTURE, message, f"{path}.{key}")


def _not_an_array(path: str, key: str, issues: list[Issue]) -> None:
    message = f"Expected a single value at {path}.{key}, not an array (max 1)"
    _issue(issues, STRUCTURE, message, f"{path}.{key.lstrip('_')}")


def _empty_array(path: str, key: str, issues: list[Issue]) -> None:
    message = f"Empty array at {path}.{key}; leave the element out instead"
    _issue(issues, STRUCTURE, message, f"{path}.{key.lstrip('_')}")


def _null(location: str, issues: list[Issue]) -> None:
    message = f"Null value at {location}; FHIR JSON does not allow null, leave the element out"
    _issue(issues, STRUCTURE, message, location)
