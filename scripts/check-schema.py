#!/usr/bin/env python3
"""Judges topology files against schemas/topology.v1.schema.json, one verdict per line.

Usage: scripts/check-schema.py FILE...

Prints `accept FILE` or `reject FILE: reason` for each file, in argument order, and exits 0 once every
file is judged (a rejected file is a verdict, not a failure). Exits 2 when PyYAML or jsonschema is missing
(Debian: apt install python3-yaml python3-jsonschema), so callers can skip rather than fail.

The Swift test SchemaAgreementTests runs this on the examples and the bad-input corpus and checks that the
schema and havpn's decoder agree, except where a corpus file says `# schema: accept`.
"""
import json
import pathlib
import sys

try:
    import jsonschema
    import yaml
except ImportError as error:
    print(f"missing python module: {error.name}", file=sys.stderr)
    sys.exit(2)

SCHEMA_PATH = pathlib.Path(__file__).resolve().parent.parent / "schemas" / "topology.v1.schema.json"


def verdict(validator, path):
    """None when the file is accepted, else the reason it is rejected."""
    try:
        documents = list(yaml.safe_load_all(pathlib.Path(path).read_text(encoding="utf-8")))
    except yaml.YAMLError as error:
        return "YAML: " + " ".join(str(error).split())
    if len(documents) != 1:
        return f"expected exactly one YAML document, found {len(documents)}"
    error = jsonschema.exceptions.best_match(validator.iter_errors(documents[0]))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "(root)"
    return f"{where}: {error.message}"


def main(paths):
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in paths:
        reason = verdict(validator, path)
        print(f"accept {path}" if reason is None else f"reject {path}: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
