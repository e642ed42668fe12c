"""One module per search parameter type (https://hl7.org/fhir/R4/search.html#ptypes).

Each has ``KIND`` (its index table), ``MODIFIERS`` (beyond ``:missing``),
``rows(param, values, group)`` for indexing and ``condition(text, modifier,
ctx)`` for one search value.
"""
