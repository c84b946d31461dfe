// SPDX-License-Identifier: MIT
//
// The one JSON encoding of a snapshot: the object stored in snapshot files
// (docs/format.md#snapshots) and, with the id added, what --json prints. A
// separate header so that nlohmann/json reaches only the files that render
// or parse JSON, never the library's other public headers.

#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "objstore/core/status.h"
#include "objstore/snapshot.h"

namespace cairn::objstore {

// The snapshot as its canonical JSON object (format version field "v"
// included). Object keys are sorted by nlohmann's std::map.
nlohmann::json SnapshotToJson(const Snapshot& s);

// The stats object of a snapshot.
nlohmann::json StatsToJson(const SnapshotStats& s);

// Parses the JSON object of a snapshot. Corruption, naming `name`, for a
// missing or mistyped field; NotSupported for a newer format version.
Result<Snapshot> SnapshotFromJson(const nlohmann::json& j, const std::string& name);

}  // namespace cairn::objstore
