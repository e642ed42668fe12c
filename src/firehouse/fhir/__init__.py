"""FHIR resource rules: JSON handling, ids, meta, versioning, bundles, validation."""
