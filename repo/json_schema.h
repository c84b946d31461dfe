// SPDX-License-Identifier: MIT
//
// A validator for the part of JSON Schema (draft 2020-12) that cairn's
// published schemas use: type, const, enum, properties, required,
// additionalProperties (true/false), items, minItems, pattern, minLength,
// maxLength, minimum, maximum, $defs and local $ref ("#/$defs/NAME"). A
// string longer than 1,024 characters never matches a pattern.
// No library in Debian does this for C++; the schema cairn enforces is the
// very document it publishes (docs/bundle-manifest.schema.json).

#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cairn::repo {

// Every place where `doc` breaks `schema`, each as "PATH: what was expected"
// with PATH in the form "snapshots[2].parents[0]" ("(root)" for the whole
// document). Empty when `doc` is valid. Stops after `max_errors`.
std::vector<std::string> ValidateJson(const nlohmann::json& schema, const nlohmann::json& doc,
                                      size_t max_errors = 20);

}  // namespace cairn::repo
