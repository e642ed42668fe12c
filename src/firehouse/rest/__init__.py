"""The FHIR RESTful API (https://hl7.org/fhir/R4/http.html): one module per interaction."""
