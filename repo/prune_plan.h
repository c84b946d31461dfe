// SPDX-License-Identifier: MIT
//
// A prune's pending work, stored as "prune/GEN" so that it survives a crash
// and so that every backup that starts while it is pending knows which
// blobs not to rely on. A plan moves through three states; each step waits
// until every session (backup, restore, check) that was alive when the
// previous step became visible has ended (docs/gc.md has the argument):
//   marked:  packs condemned, their live blobs already copied elsewhere;
//   indexed: the index files no longer name the condemned packs;
//   then the packs are deleted and the plan removed.

#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "objstore/codec.h"
#include "objstore/core/object_id.h"
#include "objstore/core/status.h"

namespace cairn::repo {

struct PrunePlan {
  enum class State { kPending, kMarked, kIndexed };
  std::string name;  // "prune/<16 hex digits>"
  State state = State::kPending;
  int64_t created_ns = 0;
  std::string host;
  std::vector<ObjectId> condemned_packs;  // to be deleted
  // Blobs of the condemned packs that no kept snapshot referenced at the
  // mark: no backup deduplicates against them while the plan is pending; a
  // snapshot that references one anyway (its backup began before the plan)
  // gets it copied out before the pack goes.
  std::vector<ObjectId> garbage;
  std::vector<ObjectId> unindexed_packs;  // packs no index file named at the mark
  // The index files that named a condemned pack at the mark. A condemned
  // pack that another index file names later was written again, byte for
  // byte, by a backup that began before the plan: it is kept.
  std::vector<std::string> index_files;
  // The sessions alive when the current state became visible; the next step
  // waits for all of them to end.
  std::vector<std::string> sessions;
  uint64_t condemned_bytes = 0;           // bytes of the condemned packs
};

const char* PlanStateName(PrunePlan::State s);

std::string EncodePrunePlan(const objstore::ObjectCodec& codec, const PrunePlan& p);
// Corruption naming the plan for damage, NotSupported for a newer version.
Result<PrunePlan> DecodePrunePlan(const objstore::ObjectCodec& codec, std::string_view file, const std::string& name);

}  // namespace cairn::repo
