// SPDX-License-Identifier: MIT
//
// The JSON Schema of a bundle's manifest (docs/bundle-manifest.schema.json
// is this text; `cairn bundle schema` prints it and t0103 compares them).

#include "repo/bundle.h"

namespace cairn::repo {

const char* BundleManifestSchema() {
  return R"SCHEMA({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://cairn.invalid/schemas/bundle-manifest-1.json",
  "title": "cairn bundle manifest, schema version 1",
  "type": "object",
  "required": ["format", "schema_version", "cairn_version", "created", "created_by", "snapshots", "tags",
               "branches", "objects", "requires", "hash"],
  "additionalProperties": false,
  "properties": {
    "format": {"const": "cairn-bundle"},
    "schema_version": {"type": "integer", "const": 1},
    "cairn_version": {"type": "string", "minLength": 1, "maxLength": 64},
    "created": {"$ref": "#/$defs/time"},
    "created_by": {
      "type": "object",
      "required": ["host", "user"],
      "additionalProperties": false,
      "properties": {"host": {"type": "string", "maxLength": 256}, "user": {"type": "string", "maxLength": 256}}
    },
    "snapshots": {"type": "array", "items": {"$ref": "#/$defs/snapshot_entry"}},
    "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}},
    "branches": {"type": "array", "items": {"$ref": "#/$defs/branch"}},
    "objects": {"type": "array", "items": {"$ref": "#/$defs/object"}},
    "requires": {
      "type": "object",
      "required": ["snapshots", "objects"],
      "additionalProperties": false,
      "properties": {
        "snapshots": {"type": "array", "items": {"$ref": "#/$defs/id"}},
        "objects": {"type": "array", "items": {"$ref": "#/$defs/required_object"}}
      }
    },
    "hash": {"$ref": "#/$defs/id"}
  },
  "$defs": {
    "id": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "time": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"},
    "count": {"type": "integer", "minimum": 0},
    "ref_name": {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9._-]*$", "maxLength": 200},
    "snapshot_entry": {
      "type": "object",
      "required": ["id", "snapshot"],
      "additionalProperties": false,
      "properties": {"id": {"$ref": "#/$defs/id"}, "snapshot": {"$ref": "#/$defs/snapshot"}}
    },
    "snapshot": {
      "type": "object",
      "required": ["v", "tree", "parents", "time_ns", "host", "user", "paths", "kind", "branch", "message", "stats",
                   "errors"],
      "additionalProperties": false,
      "properties": {
        "v": {"const": 1},
        "tree": {"$ref": "#/$defs/id"},
        "parents": {"type": "array", "items": {"$ref": "#/$defs/id"}},
        "time_ns": {"type": "integer"},
        "host": {"type": "string"},
        "user": {"type": "string"},
        "paths": {"type": "array", "items": {"type": "string"}},
        "kind": {"enum": ["full", "incremental", "differential"]},
        "branch": {"type": "string"},
        "message": {"type": "string"},
        "stats": {"type": "object", "additionalProperties": {"$ref": "#/$defs/count"}},
        "errors": {
          "type": "array",
          "items": {
            "type": "object",
            "required": ["path", "error"],
            "additionalProperties": false,
            "properties": {"path": {"type": "string"}, "error": {"type": "string"}}
          }
        },
        "excludes": {"type": "array", "items": {"type": "string"}},
        "source": {"enum": ["files", "stdin", "command", "sqlite"]},
        "root": {
          "type": "object",
          "required": ["mode", "uid", "gid", "user", "group", "mtime_ns"],
          "additionalProperties": false,
          "properties": {
            "mode": {"type": "integer", "minimum": 0, "maximum": 4095},
            "uid": {"$ref": "#/$defs/count"},
            "gid": {"$ref": "#/$defs/count"},
            "user": {"type": "string"},
            "group": {"type": "string"},
            "mtime_ns": {"type": "integer"}
          }
        }
      }
    },
    "tag": {
      "type": "object",
      "required": ["name", "snapshot", "annotation"],
      "additionalProperties": false,
      "properties": {
        "name": {"$ref": "#/$defs/ref_name"},
        "snapshot": {"$ref": "#/$defs/id"},
        "annotation": {"type": "string", "maxLength": 65536}
      }
    },
    "branch": {
      "type": "object",
      "required": ["name", "snapshot"],
      "additionalProperties": false,
      "properties": {"name": {"$ref": "#/$defs/ref_name"}, "snapshot": {"$ref": "#/$defs/id"}}
    },
    "object": {
      "type": "object",
      "required": ["id", "type", "size"],
      "additionalProperties": false,
      "properties": {
        "id": {"$ref": "#/$defs/id"},
        "type": {"enum": ["chunk", "tree"]},
        "size": {"type": "integer", "minimum": 0, "maximum": 16777216}
      }
    },
    "required_object": {
      "type": "object",
      "required": ["id", "size", "snapshot", "path", "offset"],
      "additionalProperties": false,
      "properties": {
        "id": {"$ref": "#/$defs/id"},
        "size": {"type": "integer", "minimum": 1, "maximum": 16777216},
        "snapshot": {"$ref": "#/$defs/id"},
        "path": {"type": "string", "minLength": 1},
        "offset": {"$ref": "#/$defs/count"}
      }
    }
  }
}
)SCHEMA";
}

}  // namespace cairn::repo
