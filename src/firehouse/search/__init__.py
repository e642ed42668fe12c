"""FHIR search (https://hl7.org/fhir/R4/search.html).

``registry`` knows the SearchParameters, ``fhirpath`` + ``extract`` turn a
resource into index rows on write, ``query`` parses a search's parameters,
``plan`` turns them into the storage criteria tree, ``engine`` runs a search
(matches, includes, paging). One module per parameter type under ``types/``.
"""
