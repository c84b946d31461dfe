// SPDX-License-Identifier: MIT

#include "repo/audit.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "objstore/core/object_id.h"
#include "objstore/pack.h"
#include "repo/location.h"
#include "repo/repository.h"

namespace cairn::repo {

using nlohmann::json;

namespace {

constexpr std::string_view kAuditDir = "audit/";
constexpr std::string_view kHeadName = "audit/head";
constexpr int kAuditVersion = 1;
const std::string kZeroHash(64, '0');

std::string Dumped(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// The hash of an entry: SHA-256 of its canonical JSON without "hash".
std::string EntryHash(json body) {
  body.erase("hash");
  return Sha256(Dumped(body)).ToHex();
}

bool ParseSeq(std::string_view name, uint64_t* seq) {
  if (name.size() != kAuditDir.size() + 16 || name.substr(0, kAuditDir.size()) != kAuditDir) return false;
  uint64_t v = 0;
  for (char c : name.substr(kAuditDir.size())) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *seq = v;
  return v != 0;
}

struct Head {
  uint64_t seq = 0;
  std::string hash;
};

// The head object; std::nullopt if there is none. Corruption if damaged.
Result<std::optional<Head>> ReadHead(const Repository& r) {
  auto data = r.backend()->Get(kHeadName);
  if (!data.ok()) {
    if (data.status().IsNotFound()) return std::optional<Head>();
    return data.status();
  }
  const std::string name(kHeadName);
  CAIRN_ASSIGN_OR_RETURN(std::string payload,
                         r.codec().DecodeFile(*data, objstore::FileType::kAuditHead, nullptr, name, name));
  auto j = json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("seq") || !j["seq"].is_number_unsigned() ||
      !j.contains("hash") || !j["hash"].is_string()) {
    return Status::Corruption("the audit log's head '" + name + "' is damaged");
  }
  return std::optional<Head>(Head{j["seq"].get<uint64_t>(), j["hash"].get<std::string>()});
}

Status WriteHead(Repository* r, const Head& h) {
  json j{{"version", kAuditVersion}, {"seq", h.seq}, {"hash", h.hash}};
  return r->backend()->Put(kHeadName, r->codec().EncodeFile(objstore::FileType::kAuditHead, Dumped(j),
                                                            /*compress=*/false, kHeadName));
}

// Opens and parses entry `seq` from its stored bytes; *why says what is
// wrong when it returns false.
bool DecodeEntry(const Repository& r, uint64_t seq, const std::string& data, AuditRecord* out, std::string* why) {
  out->seq = seq;
  out->name = AuditEntryName(seq);
  auto payload = r.codec().DecodeFile(data, objstore::FileType::kAudit, nullptr, out->name, out->name);
  if (!payload.ok()) {
    *why = "cannot be read (" + payload.status().message() + ")";
    return false;
  }
  auto j = json::parse(*payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    *why = "is not a JSON object";
    return false;
  }
  if (!j.contains("seq") || !j["seq"].is_number_unsigned() || !j.contains("prev") || !j["prev"].is_string() ||
      !j.contains("hash") || !j["hash"].is_string()) {
    *why = "lacks 'seq', 'prev' or 'hash'";
    return false;
  }
  out->hash = EntryHash(j);
  if (j["hash"].get<std::string>() != out->hash) {
    *why = "was changed (its content does not match its hash)";
    return false;
  }
  if (j["seq"].get<uint64_t>() != seq) {
    *why = "says it is entry " + std::to_string(j["seq"].get<uint64_t>()) + " (entries were moved or reordered)";
    return false;
  }
  out->entry = std::move(j);
  return true;
}

std::string AnchorPath(const Repository& r) {
  auto dir = UserCacheDir(r.config().repo_id);
  return dir.ok() ? *dir + "/audit-anchor" : std::string();
}

Head ReadAnchor(const Repository& r) {
  Head h;
  const std::string path = AnchorPath(r);
  if (path.empty()) return h;
  std::ifstream f(path);
  uint64_t seq = 0;
  std::string hash;
  if (f >> seq >> hash && hash.size() == 64) h = Head{seq, hash};
  return h;
}

}  // namespace

std::string AuditEntryName(uint64_t seq) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%016llu", static_cast<unsigned long long>(seq));
  return std::string(kAuditDir) + buf;
}

void UpdateAuditAnchor(const Repository& r, uint64_t seq, const std::string& hash) {
  const std::string path = AnchorPath(r);
  if (path.empty() || ReadAnchor(r).seq >= seq) return;
  const std::string dir = path.substr(0, path.rfind('/'));
  const std::string root = dir.substr(0, dir.rfind('/'));
  ::mkdir(root.c_str(), 0700);
  ::mkdir(dir.c_str(), 0700);
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << seq << " " << hash << "\n";
    if (!f.flush()) {
      std::remove(tmp.c_str());
      return;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) std::remove(tmp.c_str());
}

Result<AuditRecord> AppendAudit(Repository* r, json entry) {
  if (!entry.is_object()) return Status::InvalidArgument("an audit entry must be a JSON object");
  CAIRN_ASSIGN_OR_RETURN(std::optional<Head> head, ReadHead(*r));
  if (!head) {
    // A new log gets its head (entry 0) before its first entry, so that a
    // head missing beside entries is always damage, never a crash.
    bool any = false;
    CAIRN_RETURN_IF_ERROR(r->backend()->List(kAuditDir, [&](const std::string& n, uint64_t) {
      uint64_t seq = 0;
      if (ParseSeq(n, &seq)) any = true;
    }));
    if (any) {
      return Status::Corruption("the audit log's head ('" + std::string(kHeadName) +
                                "') is missing, so the log may have been cut off; run 'cairn audit verify'");
    }
    CAIRN_RETURN_IF_ERROR(WriteHead(r, Head{0, kZeroHash}));
    head = Head{0, kZeroHash};
  }
  Head prev = *head;
  if (prev.seq == 0) prev.hash = kZeroHash;
  for (int tries = 0;; tries++) {
    if (tries > 100000) return Status::IOError("cannot append to the audit log: no free entry found");
    AuditRecord rec;
    rec.seq = prev.seq + 1;
    rec.name = AuditEntryName(rec.seq);
    json body = entry;
    body["version"] = kAuditVersion;
    body["seq"] = rec.seq;
    body["prev"] = prev.hash;
    body.erase("hash");
    body = json::parse(Dumped(body));  // the form it reads back as (invalid UTF-8 replaced)
    rec.hash = EntryHash(body);
    body["hash"] = rec.hash;
    const std::string file =
        r->codec().EncodeFile(objstore::FileType::kAudit, Dumped(body), /*compress=*/false, rec.name);
    Status st = r->backend()->PutIfAbsent(rec.name, file);
    if (st.ok()) {
      rec.entry = std::move(body);
      // The head moves forward only: a slower writer of an older entry
      // leaves a newer head alone. Written on the first try, the entry
      // follows the head read above, so no newer head can exist unless a
      // writer followed this very entry in the moments since; the head is
      // then one behind, which `audit verify` notes and the next append
      // corrects. Only after a lost race is the head read again.
      bool newer = false;
      if (tries > 0) {
        auto cur = ReadHead(*r);
        newer = !cur.ok() || !*cur || (*cur)->seq >= rec.seq;
      }
      if (!newer) CAIRN_RETURN_IF_ERROR(WriteHead(r, Head{rec.seq, rec.hash}));
      UpdateAuditAnchor(*r, rec.seq, rec.hash);
      return rec;
    }
    if (st.code() != Code::kAlreadyExists) return st;
    // Someone else took this place: follow their entry.
    CAIRN_ASSIGN_OR_RETURN(std::string data, r->backend()->Get(rec.name));
    AuditRecord other;
    std::string why;
    if (!DecodeEntry(*r, rec.seq, data, &other, &why)) {
      return Status::Corruption("audit log entry " + std::to_string(rec.seq) + " ('" + rec.name + "') " + why +
                                "; run 'cairn audit verify'");
    }
    prev = Head{other.seq, other.hash};
  }
}

Result<AuditReport> ReadAudit(const Repository& r) {
  AuditReport rep;
  std::map<uint64_t, std::string> names;
  CAIRN_RETURN_IF_ERROR(r.backend()->List(kAuditDir, [&](const std::string& n, uint64_t) {
    uint64_t seq = 0;
    if (ParseSeq(n, &seq)) names[seq] = n;
  }));
  auto bad = [&](uint64_t seq, const std::string& why) {
    rep.bad_seq = seq;
    rep.problem = "entry " + std::to_string(seq) + " (" + AuditEntryName(seq) + ") " + why;
  };
  std::string prev_hash = kZeroHash;
  uint64_t expect = 1;
  for (const auto& [seq, name] : names) {
    if (seq != expect) {
      bad(expect, "is missing (deleted); entry " + std::to_string(seq) + " follows entry " + std::to_string(expect - 1));
      break;
    }
    auto data = r.backend()->Get(name);
    if (!data.ok()) {
      bad(seq, data.status().IsNotFound() ? "is missing (deleted)" : "cannot be read: " + data.status().message());
      break;
    }
    AuditRecord rec;
    std::string why;
    if (!DecodeEntry(r, seq, *data, &rec, &why)) {
      bad(seq, why);
      break;
    }
    if (rec.entry["prev"].get<std::string>() != prev_hash) {
      // The chain breaks here: this entry was put in place of another, or
      // the one before it was rewritten with a new hash.
      if (seq == 1) {
        bad(seq, "does not start the log (it names a previous entry)");
      } else {
        bad(seq - 1, "was changed or replaced (entry " + std::to_string(seq) + " names another hash for it)");
        rep.records.pop_back();
      }
      break;
    }
    prev_hash = rec.hash;
    rep.records.push_back(std::move(rec));
    expect++;
  }
  const uint64_t last = rep.records.empty() ? 0 : rep.records.back().seq;
  auto hash_of = [&](uint64_t seq) -> std::string {
    if (seq == 0) return kZeroHash;
    return seq > rep.records.size() ? std::string() : rep.records[seq - 1].hash;
  };
  auto head = ReadHead(r);
  if (!head.ok()) {
    if (rep.problem.empty()) {
      rep.problem = head.status().message();
      rep.bad_seq = last + 1;
    }
  } else if (*head) {
    rep.head_seq = (*head)->seq;
    if (rep.problem.empty()) {
      if ((*head)->seq > last) {
        bad(last + 1, "is missing: the log ends at entry " + std::to_string(last) + " but its head names entry " +
                          std::to_string((*head)->seq) + " (the log was cut off)");
      } else if (hash_of((*head)->seq) != (*head)->hash) {
        bad((*head)->seq, "was changed or replaced (the log's head names another hash for it)");
      } else if ((*head)->seq < last) {
        rep.notes.push_back("the head names entry " + std::to_string((*head)->seq) + " of " + std::to_string(last) +
                            " (an append was interrupted, or is under way); the next append moves it");
      }
    }
  } else if (last > 0 && rep.problem.empty()) {
    rep.problem = "the log's head (" + std::string(kHeadName) + ") is missing; the log may have been cut off";
    rep.bad_seq = last + 1;
  }
  const Head anchor = ReadAnchor(r);
  rep.anchor_seq = anchor.seq;
  if (anchor.seq > 0 && rep.problem.empty()) {
    if (anchor.seq > last) {
      bad(last + 1, "is missing: this machine has seen the log up to entry " + std::to_string(anchor.seq) +
                        ", it now ends at entry " + std::to_string(last) + " (the log was cut off or rolled back)");
    } else if (hash_of(anchor.seq) != anchor.hash) {
      bad(anchor.seq, "was changed or replaced (this machine saw another entry there)");
    }
  }
  return rep;
}

}  // namespace cairn::repo
