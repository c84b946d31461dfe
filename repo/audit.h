// SPDX-License-Identifier: MIT
//
// The audit log (format.md#audit-log): one entry per operation that changed
// the repository or restored from it, and per approval decision, kept in
// the repository as a hash chain. Entry N is the object audit/N (N in 16
// decimal digits), sealed like every object in an encrypted repository; it
// holds the hash of entry N-1. The head object audit/head names the newest
// entry and its hash, and every machine keeps the newest head it has seen
// in its cache folder: so an edited, deleted, reordered or cut-off entry is
// found by VerifyAudit, which names the first bad one.
//
// Appending takes no lock: an entry is stored only if its name is free
// (Backend::PutIfAbsent), so two writers never take the same place; the
// loser reads the winner's entry and tries the next. The head is written
// after the entry. A process killed in between leaves a head one entry
// behind, which is not damage (the entries after the head still chain);
// the next append moves the head on.

#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "objstore/core/status.h"

namespace cairn::repo {

class Repository;

struct AuditRecord {
  uint64_t seq = 0;
  std::string name;      // "audit/0000000000000001"
  std::string hash;      // hex SHA-256 of the entry's canonical JSON without "hash"
  nlohmann::json entry;  // the whole entry, "seq", "prev" and "hash" included
};

// Appends `entry` (a JSON object of the caller's members; "seq", "prev",
// "hash" and "version" are set here). Returns the stored record.
Result<AuditRecord> AppendAudit(Repository* r, nlohmann::json entry);

struct AuditReport {
  // The entries, oldest first, up to (not including) the first bad one.
  std::vector<AuditRecord> records;
  // "" when the log verifies; else the first bad entry and why, one line:
  // "entry 5 (audit/0000000000000005) was changed: …".
  std::string problem;
  uint64_t bad_seq = 0;  // the first bad entry (0 when none)
  uint64_t head_seq = 0;  // what audit/head names (0: no head)
  // This machine's anchor (the newest head it saw), 0 when it has none.
  uint64_t anchor_seq = 0;
  // Things that are not damage: a head behind the newest entry (an
  // interrupted append).
  std::vector<std::string> notes;
};

// Reads every entry and verifies the chain, the head and this machine's
// anchor. An error status only when the log cannot be listed; damage is
// reported in the result.
Result<AuditReport> ReadAudit(const Repository& r);

// Records `seq`/`hash` as the newest head this machine has seen, if it is
// newer than the anchor it has (best effort: a cache folder that cannot be
// written is not an error).
void UpdateAuditAnchor(const Repository& r, uint64_t seq, const std::string& hash);

// The object name of entry `seq`.
std::string AuditEntryName(uint64_t seq);

}  // namespace cairn::repo
